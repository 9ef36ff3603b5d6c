"""Storing uploads and archiving them."""

import os
import subprocess

UPLOAD_DIR = "/srv/uploads"


def archive(src, target):
    """Pack the directory `src` into the tarball `target`."""
    subprocess.run(["tar", "czf", target, src])
    return target


def backup(src, target):
    """Copy `src` to `target`, failing loudly."""
    subprocess.run(["cp", "-r", src, target], check=True)
    return target


def read_upload(filename):
    """The bytes of an uploaded file, by the name the client gave."""
    with open(os.path.join(UPLOAD_DIR, filename), "rb") as f:
        return f.read()


def read_report(name):
    """A report from the upload directory; names must stay inside it."""
    path = os.path.realpath(os.path.join(UPLOAD_DIR, name))
    if not path.startswith(UPLOAD_DIR + os.sep):
        raise ValueError(f"invalid report name: {name!r}")
    with open(path, "rb") as f:
        return f.read()


def first_line(path):
    """The first line of a text file."""
    f = open(path)
    line = f.readline()
    return line.rstrip("\n")
