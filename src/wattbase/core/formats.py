"""Does a document parse as its declared format? Each check streams or maps the bytes.

What "parses" means, per format (and why it is cheap enough for 64 MiB documents):

- ``json``: one JSON value, nothing after it. msgspec decodes into ``msgspec.Raw``, which
  checks the whole syntax but builds no objects; the bytes are memory-mapped, not copied.
- ``xml``: well-formed XML, fed in chunks to defusedxml's parser with a target that builds
  no tree (so expat does the work, not a Python callback per element).
  Entity declarations and external references are refused the moment the parser meets
  them, so a billion-laughs or XXE document fails before anything expands or is fetched.
  A DTD without entities is allowed.
- ``yaml``: every document of the stream parses (PyYAML's safe loader, C version when
  present, read as events so no objects are built), and every explicit tag is one the safe
  loader knows: ``!!python/object`` and friends are refused as ``yaml.safe_load`` would.
- ``toml``: ``tomllib`` loads it (this one builds the document; TOML files are config-sized).
- ``ini``: ``configparser`` reads it without interpolation; keys before the first
  ``[section]`` or lines that are not ``key = value`` are refused. Duplicates are allowed.
- ``csv``: UTF-8 text (a BOM is allowed) that the ``csv`` module reads in strict mode with
  its default dialect (comma, double quotes), where every non-blank row has as many fields
  as the first. A semicolon-separated file is therefore a valid one-column CSV. Fields are
  limited to the csv module's default of 131072 characters.
- ``misc``: anything.
"""

from __future__ import annotations

import configparser
import csv
import io
import mmap
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import BinaryIO
from xml.etree.ElementTree import ParseError

import msgspec
import yaml
from defusedxml.common import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from wattbase.errors import InvalidRequest
from wattbase.model.datasets import Format

CHUNK = 1 << 16
_YamlLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
YAML_TAGS = frozenset(t for t in yaml.SafeLoader.yaml_constructors if t is not None) | {"!"}


def _refuse(fmt: Format, reason: str) -> InvalidRequest:
    return InvalidRequest(f"the content does not parse as {fmt.value}: {reason}", param="content")


@contextmanager
def _mapped(blob: BinaryIO) -> Iterator[bytes | mmap.mmap]:
    """The whole content as one buffer, mapped from the file rather than read into memory."""
    try:
        fileno = blob.fileno()
    except (OSError, AttributeError):
        yield blob.read()
        return
    blob.flush()
    if blob.seek(0, io.SEEK_END) == 0:
        yield b""
        return
    with mmap.mmap(fileno, 0, access=mmap.ACCESS_READ) as view:
        yield view


def _json(blob: BinaryIO) -> None:
    with _mapped(blob) as data:
        try:
            msgspec.json.decode(data, type=msgspec.Raw)
        except msgspec.DecodeError as exc:
            raise _refuse(Format.JSON, str(exc)) from None


class _NoTree:
    """An ElementTree target without start/end/data: expat checks, no Python per element."""

    def close(self) -> None:
        return None


def _xml(blob: BinaryIO) -> None:
    parser = DefusedXMLParser(
        target=_NoTree(), forbid_dtd=False, forbid_entities=True, forbid_external=True
    )
    try:
        while chunk := blob.read(CHUNK):
            parser.feed(chunk)
        parser.close()
    except ParseError as exc:
        raise _refuse(Format.XML, str(exc)) from None
    except DefusedXmlException as exc:
        raise _refuse(Format.XML, f"refused for safety, {exc}") from None


def _yaml(blob: BinaryIO) -> None:
    try:
        for event in yaml.parse(blob, Loader=_YamlLoader):
            tag = getattr(event, "tag", None)
            if tag is not None and tag not in YAML_TAGS:
                raise _refuse(Format.YAML, f"the tag {tag!r} is not allowed by the safe loader")
    except yaml.YAMLError as exc:
        raise _refuse(Format.YAML, str(exc)) from None


def _toml(blob: BinaryIO) -> None:
    try:
        tomllib.load(blob)
    except ValueError as exc:
        raise _refuse(Format.TOML, str(exc)) from None


@contextmanager
def _text(blob: BinaryIO, fmt: Format) -> Iterator[io.TextIOWrapper]:
    text = io.TextIOWrapper(blob, encoding="utf-8-sig", newline="")
    try:
        yield text
    except UnicodeDecodeError as exc:
        raise _refuse(fmt, f"not UTF-8 text ({exc.reason})") from None
    finally:
        # Detached, the wrapper leaves the caller's file open.
        text.detach()


def _ini(blob: BinaryIO) -> None:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    with _text(blob, Format.INI) as text:
        try:
            parser.read_file(text)
        except configparser.Error as exc:
            raise _refuse(Format.INI, str(exc)) from None


def _csv(blob: BinaryIO) -> None:
    with _text(blob, Format.CSV) as text:
        reader = csv.reader(text, strict=True)
        width: int | None = None
        try:
            for row in reader:
                if not row:
                    continue
                if width is None:
                    width = len(row)
                elif len(row) != width:
                    raise _refuse(
                        Format.CSV,
                        f"line {reader.line_num} has {len(row)} fields, the first row {width}",
                    )
        except csv.Error as exc:
            raise _refuse(Format.CSV, f"line {reader.line_num}: {exc}") from None


CHECKS: dict[Format, Callable[[BinaryIO], None]] = {
    Format.JSON: _json,
    Format.XML: _xml,
    Format.YAML: _yaml,
    Format.TOML: _toml,
    Format.INI: _ini,
    Format.CSV: _csv,
}


def check_format(fmt: Format, blob: BinaryIO) -> None:
    """400 (param ``content``) with the parser's reason unless ``blob`` parses as ``fmt``."""
    check = CHECKS.get(fmt)
    if check is not None:
        blob.seek(0)
        check(blob)
