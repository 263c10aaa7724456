"""The filters that write a string of the model into each file format."""

from __future__ import annotations

import base64
import json

import pytest

from souverain.render import escaping


def test_comment_text_keeps_one_line():
    assert escaping.comment_text("ACME") == "ACME"
    assert escaping.comment_text("a\nb\rc\x00d\u2028e\u202ef") == (
        "a\\u000ab\\u000dc\\u0000d\\u2028e\\u202ef"
    )


def test_php_comment_cannot_leave_php():
    assert escaping.php_comment("a ?> <?php b") == "a ?\\> <?php b"


def test_php_string_escapes_quote_and_backslash_only():
    assert escaping.php_string("it's a\\b $x") == "'it\\'s a\\\\b $x'"


def test_lua_string_escapes_quotes_backslashes_and_controls():
    assert escaping.lua_string('a"b\\c\nd\x00') == '"a\\"b\\\\c\\010d\\000"'
    assert escaping.lua_string("]]--") == '"]]--"'


def test_hocon_string_is_a_json_string():
    value = 'x"${env.HOME}\\\n'
    assert json.loads(escaping.hocon_string(value)) == value


def test_json_string_escapes_line_separators():
    text = escaping.json_string("a\u2028b\x85")
    assert text.isascii()
    assert json.loads(text) == "a\u2028b\x85"


def test_nginx_string_escapes_and_refuses_what_nginx_cannot_hold():
    assert escaping.nginx_string('a"b\\c\nd;{}#') == '"a\\"b\\\\c\\nd;{}#"'
    with pytest.raises(ValueError, match=r"\$"):
        escaping.nginx_string("a$host")
    with pytest.raises(ValueError, match="U\\+0000"):
        escaping.nginx_string("a\x00b")


def test_nginx_xml_text_leaves_nginx_nothing_to_expand():
    assert escaping.nginx_xml_text("A&B <b> 'x' $host \\") == (
        "A&amp;B &lt;b&gt; &#39;x&#39; &#36;host &#92;"
    )
    with pytest.raises(ValueError):
        escaping.nginx_xml_text("a\nb")


def test_dovecot_string_quotes_and_doubles_percent():
    assert escaping.dovecot_string('a"b\\%u') == '"a\\"b\\\\%%u"'
    with pytest.raises(ValueError):
        escaping.dovecot_string("a\nb")


def test_postfix_value_doubles_dollar_and_refuses_line_breaks():
    assert escaping.postfix_value("a$b") == "a$$b"
    for bad in ("a\nb", " a", "a\x00"):
        with pytest.raises(ValueError):
            escaping.postfix_value(bad)


@pytest.mark.parametrize(
    "value", ["dc=example,dc=org", "ACME: la mairie", "plain text; with {braces}"]
)
def test_ldif_value_writes_safe_strings_as_they_are(value):
    assert escaping.ldif_value(value) == f": {value}"


@pytest.mark.parametrize(
    "value", [":colon first", " space first", "<less", "ends with space ", "a\nb", "é", "a\x00"]
)
def test_ldif_value_writes_other_strings_in_base64(value):
    written = escaping.ldif_value(value)
    assert written.startswith(":: ")
    assert base64.b64decode(written[3:]).decode("utf-8") == value
