"""Property tests (hypothesis) of URI parsing.

These do not depend on how local paths are normalised (``..`` handling belongs to the parser's
own tests): generated keys use plain segments, and the fuzz property only demands that any text
either parses or raises InvalidUriError naming it.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from s3dlio import InvalidUriError, parse_uri

NETWORK = ("s3", "az", "gs")
LOCAL = ("file", "direct")
_segment_chars = st.characters(blacklist_characters="/\x00", blacklist_categories=("Cs",))
segment = st.text(_segment_chars, min_size=1, max_size=12).filter(lambda s: s not in (".", ".."))
keys = st.lists(segment, min_size=1, max_size=5).map("/".join)
buckets = st.from_regex(r"[a-z0-9][a-z0-9.-]{1,20}[a-z0-9]", fullmatch=True)


@settings(max_examples=300)
@given(scheme=st.sampled_from(NETWORK), bucket=buckets, key=keys)
def test_network_uris_split_and_rebuild(scheme: str, bucket: str, key: str) -> None:
    uri = f"{scheme}://{bucket}/{key}"
    parsed = parse_uri(uri)
    assert (parsed.scheme, parsed.bucket, parsed.key) == (scheme, bucket, key)
    assert str(parsed) == uri
    assert parse_uri(uri.replace(scheme, scheme.upper(), 1)) == parsed  # schemes ignore case
    assert parsed.root == f"{scheme}://{bucket}/" and not parsed.is_local


@settings(max_examples=300)
@given(scheme=st.sampled_from(LOCAL), path=keys)
def test_local_uris_split_and_rebuild(scheme: str, path: str) -> None:
    uri = f"{scheme}:///{path}"
    parsed = parse_uri(uri)
    assert (parsed.scheme, parsed.bucket, parsed.key) == (scheme, "", path)
    assert str(parsed) == uri and parsed.is_local


@settings(max_examples=200)
@given(scheme=st.sampled_from(NETWORK + LOCAL), first=keys, second=keys)
def test_with_key_stays_in_the_bucket(scheme: str, first: str, second: str) -> None:
    base = f"{scheme}:///{first}" if scheme in LOCAL else f"{scheme}://bucket/{first}"
    parsed = parse_uri(base)
    moved = parse_uri(parsed.with_key(second))
    assert (moved.scheme, moved.bucket, moved.key) == (parsed.scheme, parsed.bucket, second)


@settings(max_examples=500)
@given(text=st.text(max_size=40) | st.builds("{}://{}".format, st.text(max_size=8), st.text(max_size=30)))
def test_any_text_parses_or_raises_invalid_uri(text: str) -> None:
    try:
        parsed = parse_uri(text)
    except InvalidUriError as exc:
        assert repr(text) in str(exc) or text in str(exc)
        assert isinstance(exc, ValueError)
        return
    assert parsed.scheme in NETWORK + LOCAL
    assert parsed.is_local or parsed.bucket


@settings(max_examples=100)
@given(text=st.text(st.characters(blacklist_characters=":"), max_size=30))
def test_text_without_a_scheme_is_refused(text: str) -> None:
    try:
        parse_uri(text)
    except InvalidUriError as exc:
        assert "no scheme" in str(exc)
    else:
        raise AssertionError(f"{text!r} parsed without a scheme")
