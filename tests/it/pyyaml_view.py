"""Prints, for each config file named on standard input (one a line), one
JSON line: what Synapse's loader (PyYAML's yaml.safe_load on the file opened
as text, as Synapse opens it) reads from it, in the form tests/it/pyyaml.rs
builds from the tool's reading: {"error": true} when it is refused, else
the settings the tool reads, each value tagged with its Python type."""

import datetime
import json
import sys

import yaml

KEYS = [
    "registration_shared_secret",
    "registration_shared_secret_path",
    "server_name",
    "allow_underscore_prefixed_localpart",
    "listeners",
    "matrix_authentication_service",
    "experimental_features",
]


def view(value, stack=()):
    if any(value is seen for seen in stack):
        return "recursive"
    if value is None:
        return None
    if isinstance(value, bool):
        return {"bool": value}
    if isinstance(value, int):
        return {"int": value} if -(2**63) <= value < 2**63 else "bigint"
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return {"float": repr(value)}
        return {"float": value}
    if isinstance(value, str):
        return {"str": value}
    if isinstance(value, list):
        if value and all(isinstance(item, tuple) for item in value):
            return "a list of pairs"
        return [view(item, stack + (value,)) for item in value]
    if isinstance(value, dict):
        return [[view(k), view(v, stack + (value,))] for k, v in value.items()]
    if isinstance(value, (datetime.date, datetime.datetime)):
        return "a date"
    if isinstance(value, bytes):
        return "bytes (!!binary)"
    if isinstance(value, set):
        return "a set"
    return "unknown " + type(value).__name__


def read(path):
    try:
        with open(path, encoding="utf-8") as stream:
            config = yaml.safe_load(stream)
    except Exception:  # Synapse does not start, whatever the exception.
        return {"error": True}
    if not isinstance(config, dict):
        return {"not_a_mapping": True}
    return {key: view(config[key]) for key in KEYS if key in config}


for line in sys.stdin:
    print(json.dumps(read(line.rstrip("\n"))), flush=True)
