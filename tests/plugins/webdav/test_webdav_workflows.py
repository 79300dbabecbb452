"""The seeds' number/average workflow with every output on the real WebDAV server, and its faults."""

from __future__ import annotations

from remote_scenarios import ServerFaultScenarios, show


class TestWebDAVWorkflows(ServerFaultScenarios):
    """Every shared scenario against the WebDAV server, and its credentials."""

    def test_wrong_credentials_fail_at_once_with_a_clear_error(self, flow, protocol) -> None:
        wrong = str(protocol.settings["X509_USER_PROXY"]).replace("x509up", "wrong-x509up")
        protocol.settings = {**protocol.settings, "X509_USER_PROXY": wrong}
        flow.write(numbers=2)
        result = flow.run()
        assert result.returncode != 0, show(result)
        assert "TLS failed: " in result.stderr, show(result)  # the alert, or a hang-up under TLS 1.3
        assert f"X509_USER_PROXY={wrong}" in result.stderr, show(result)
