"""The seeds' example: 100 random numbers and their average.

Run it with `python examples/number_average.py` (locally, 2 workers) or add `--batch` with a batch_system
set in settings.json. Results land in examples/results/.
"""

import random

import b2core as b2luigi


class MyNumberTask(b2luigi.Task):
    some_parameter = b2luigi.IntParameter()

    def output(self):
        yield self.add_to_output("output_file.txt")

    def run(self):
        random_number = random.random()
        with open(self.get_output_file_name("output_file.txt"), "w") as f:
            f.write(f"{random_number}\n")


class MyAverageTask(b2luigi.Task):
    def requires(self):
        for i in range(100):
            yield self.clone(MyNumberTask, some_parameter=i)

    def output(self):
        yield self.add_to_output("average.txt")

    def run(self):
        numbers = []
        for input_file in self.get_input_file_names("output_file.txt"):
            with open(input_file) as f:
                numbers.append(float(f.read()))
        with open(self.get_output_file_name("average.txt"), "w") as f:
            f.write(f"{sum(numbers) / len(numbers)}\n")


if __name__ == "__main__":
    b2luigi.set_setting("result_dir", "results")
    b2luigi.set_setting("log_dir", "results/logs")
    b2luigi.set_setting("task_file_dir", "results/task_files")
    b2luigi.process(MyAverageTask(), workers=2)
    average = MyAverageTask()
    print(f"The average is in {average.get_output_file_name('average.txt')}")
