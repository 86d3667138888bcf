"""Signature oracle for tests/twilio_official.rs, using the official Twilio helper library.

Reads JSON on stdin: {"sign": [{"token", "url", "params": [[name, value], ...]}],
"validate": [{"token", "url", "params", "signature"}]} and prints
{"signatures": [...], "valid": [...]} computed by twilio.request_validator.RequestValidator.
"""
import json
import sys

from twilio.request_validator import RequestValidator


class MultiDict(dict):
    """Repeated form names, as the validator reads them (through getall)."""

    def __init__(self, pairs):
        super().__init__()
        for name, value in pairs:
            self.setdefault(name, []).append(value)

    def getall(self, name):
        return self[name]


def main():
    request = json.load(sys.stdin)
    signatures = [
        RequestValidator(c["token"]).compute_signature(c["url"], MultiDict(c["params"]))
        for c in request.get("sign", [])
    ]
    valid = [
        RequestValidator(c["token"]).validate(c["url"], MultiDict(c["params"]), c["signature"])
        for c in request.get("validate", [])
    ]
    json.dump({"signatures": signatures, "valid": valid}, sys.stdout)


if __name__ == "__main__":
    main()
