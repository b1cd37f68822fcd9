"""Alert identity and rendering."""

from __future__ import annotations

from switchyard.alerts import Alert, fingerprint


def test_fingerprint_depends_on_name_and_labels_not_label_order() -> None:
    a = fingerprint("SwitchyardProviderDown", {"deployment": "gpt", "scope": "deployment"})
    assert a == fingerprint("SwitchyardProviderDown", {"scope": "deployment", "deployment": "gpt"})
    assert a != fingerprint("SwitchyardProviderDown", {"deployment": "claude", "scope": "deployment"})
    assert a != fingerprint("SwitchyardLatencyHigh", {"deployment": "gpt", "scope": "deployment"})
    # Label boundaries are part of the hash: moving characters between key and value changes it.
    assert fingerprint("X", {"ab": "c"}) != fingerprint("X", {"a": "bc"})
    assert len(a) == 16
    assert int(a, 16) >= 0


def test_text_and_fields() -> None:
    labels = {"scope": "deployment", "deployment": "gpt"}
    alert = Alert(
        name="SwitchyardErrorRateHigh", status="resolved", severity="warning", summary="7.0% of 40 requests failed",
        labels=labels, fingerprint=fingerprint("SwitchyardErrorRateHigh", labels), started_at=10.0, value=0.07,
        threshold=0.05, ends_at=70.0,
    )
    assert alert.text() == (
        "[RESOLVED:warning] SwitchyardErrorRateHigh deployment=gpt scope=deployment: 7.0% of 40 requests failed"
    )
    fields = alert.to_dict()
    assert fields["labels"] == labels
    assert fields["labels"] is not labels
    assert (fields["status"], fields["started_at"], fields["ends_at"]) == ("resolved", 10.0, 70.0)
