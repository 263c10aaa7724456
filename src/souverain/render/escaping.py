"""One filter per file format for a string of the model that reaches a rendered file.

The model's types already refuse what no format can carry (line breaks, NUL, control and
invisible characters, Jinja2 delimiters: souverain.model.strings); these filters quote what is
left, the quotes, backslashes and delimiters of each format, so that a value is always one
value of its file. A filter that meets a character its format cannot carry at all raises
ValueError rather than write a file that means something else: the render then fails.
"""

from __future__ import annotations

import base64
import json
import unicodedata

_LINE_BREAKING = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def _refuse_control(value: str, format_name: str) -> None:
    for char in value:
        if unicodedata.category(char) in _LINE_BREAKING:
            raise ValueError(f"U+{ord(char):04X} cannot be written in {format_name}: {value!r}")


def comment_text(value: object) -> str:
    """Text inside a one-line comment (# ..., // ..., -- ...): every control, invisible or
    line-breaking character shown as \\uXXXX, so the comment stays one line."""
    return "".join(
        f"\\u{ord(char):04x}" if unicodedata.category(char) in _LINE_BREAKING else char
        for char in str(value)
    )


def php_comment(value: object) -> str:
    """Text inside a PHP // comment, where ?> would leave PHP: it is written ?\\>."""
    return comment_text(value).replace("?>", "?\\>")


def php_string(value: object) -> str:
    """A PHP single-quoted string: only the backslash and the quote are special there."""
    text = str(value)
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def lua_string(value: object) -> str:
    """A Lua double-quoted string (Prosody): quotes and backslashes escaped, every control
    character as a decimal escape \\ddd."""
    out = []
    for char in str(value):
        if char in ('"', "\\"):
            out.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\{ord(char):03d}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def hocon_string(value: object) -> str:
    """A HOCON quoted string (Jitsi videobridge): HOCON's quoted strings are JSON strings,
    and ${...} inside quotes is text, not a substitution."""
    return json.dumps(str(value), ensure_ascii=False)


def json_string(value: object) -> str:
    """A JSON (and YAML) double-quoted string, every character outside ASCII escaped so that
    no reader takes U+2028 or U+0085 for a line break."""
    return json.dumps(str(value), ensure_ascii=True)


_NGINX_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def nginx_string(value: object) -> str:
    """An nginx double-quoted parameter: backslash, quote, line feed, carriage return and tab
    escaped as nginx reads them. nginx has no escape for $ (a variable) in most directives,
    nor for other control characters: a value holding one cannot be written and is refused."""
    text = str(value)
    escaped = "".join(_NGINX_ESCAPES.get(char, char) for char in text)
    _refuse_control(escaped, "nginx configuration")
    if "$" in text:
        raise ValueError(f"$ cannot be written in an nginx parameter: {text!r}")
    return f'"{escaped}"'


_XML_IN_NGINX = {
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    '"': "&quot;",
    "'": "&#39;",
    "$": "&#36;",
    "\\": "&#92;",
}


def nginx_xml_text(value: object) -> str:
    """XML text inside an nginx quoted string (mail client autoconfiguration served by
    `return 200 '...'`): XML-escaped, and $ and backslash written as character references,
    so that nginx neither expands a $variable nor reads an escape in it."""
    text = str(value)
    _refuse_control(text, "an XML document served by nginx")
    return "".join(_XML_IN_NGINX.get(char, char) for char in text)


def dovecot_string(value: object) -> str:
    """A Dovecot double-quoted value: quotes and backslashes escaped, % written %% so that
    no %variable is expanded in it."""
    text = str(value)
    _refuse_control(text, "Dovecot configuration")
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%")
    return f'"{escaped}"'


def postfix_value(value: object) -> str:
    """A Postfix main.cf value: $ written $$ (no $parameter expansion), and no leading
    space, which would make it a continuation of the line before."""
    text = str(value)
    _refuse_control(text, "Postfix configuration")
    if text != text.strip():
        raise ValueError(f"a Postfix value cannot start or end with a space: {text!r}")
    return text.replace("$", "$$")


# RFC 2849: a value is written as is only when it is a SAFE-STRING (ASCII without NUL, LF and
# CR, not starting with a space, ':' or '<'); a value ending with a space should be base64 too.
_LDIF_UNSAFE_START = frozenset({" ", ":", "<"})


def ldif_value(value: object) -> str:
    """An attribute value of LDIF, with its separator: ': text' for a safe string, else
    ':: base64' of its UTF-8 (RFC 2849), to write `attribute{{ value | ldif_value }}`."""
    text = str(value)
    safe = (
        text.isascii()
        and not any(char in "\0\n\r" for char in text)
        and (not text or text[0] not in _LDIF_UNSAFE_START)
        and not text.endswith(" ")
    )
    if safe:
        return f": {text}"
    return ":: " + base64.b64encode(text.encode("utf-8")).decode("ascii")


FILTERS = {
    "comment_text": comment_text,
    "php_comment": php_comment,
    "php_string": php_string,
    "lua_string": lua_string,
    "hocon_string": hocon_string,
    "json_string": json_string,
    "nginx_string": nginx_string,
    "nginx_xml_text": nginx_xml_text,
    "dovecot_string": dovecot_string,
    "postfix_value": postfix_value,
    "ldif_value": ldif_value,
}
