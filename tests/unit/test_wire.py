"""The Raft port's AES-GCM frames: round trip, authentication, and the calls pysyncobj makes."""

import pickle
import zlib

import pytest

from raftkube.state.wire import AeadEncryptor, InvalidToken


@pytest.fixture(scope="module")
def pair():
    return AeadEncryptor("s3cret"), AeadEncryptor("s3cret")


def test_a_peer_with_the_same_secret_reads_the_frame_and_its_timestamp(pair):
    a, b = pair
    data = zlib.compress(pickle.dumps({"type": "append_entries", "term": 3}), 3)
    token = a.encrypt_at_time(data, 1234)
    assert data not in token  # encrypted, not just signed
    assert b.extract_timestamp(token) == 1234
    assert b.decrypt(token) == data


def test_every_frame_gets_a_fresh_nonce(pair):
    a, _ = pair
    assert a.encrypt_at_time(b"same", 1) != a.encrypt_at_time(b"same", 1)


def test_a_wrong_secret_or_an_altered_frame_is_rejected(pair):
    a, b = pair
    token = a.encrypt_at_time(b"payload", 7)
    with pytest.raises(InvalidToken):
        AeadEncryptor("other").extract_timestamp(token)
    flipped = bytearray(token)
    flipped[-1] ^= 1
    with pytest.raises(InvalidToken):
        b.decrypt(bytes(flipped))
    later = bytearray(token)
    later[8] ^= 1  # the timestamp is authenticated too: a replayed frame cannot claim a newer time
    with pytest.raises(InvalidToken):
        b.extract_timestamp(bytes(later))


def test_a_raw_pickle_is_not_a_frame(pair):
    _, b = pair
    for junk in (b"", b"\x01" * 10, zlib.compress(pickle.dumps(["x"]), 3)):
        with pytest.raises(InvalidToken):
            b.extract_timestamp(junk)
