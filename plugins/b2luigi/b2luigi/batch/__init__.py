"""b2luigi.batch: where b2luigi projects import batch process classes from."""
