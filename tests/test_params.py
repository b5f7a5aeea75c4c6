import pytest

from bench.errors import UserError
from bench.params import FeatureParams, ProtocolParams, load_profile, parse_section


def test_repo_params_define_both_profiles(repo_params):
    quick = load_profile(repo_params, "quick")
    standard = load_profile(repo_params, "standard")
    assert quick.features.shape == (1, 32, 32)
    assert standard.features.shape == (1, 64, 63)
    assert quick.protocol.seeds == (0, 1, 2, 3, 4)
    # ESC clips are 5 s long: the override stretches the hop, not the image size
    esc = quick.features_for("esc10")
    assert esc.hop_length == 1250 and esc.shape == (1, 32, 32)


def test_unknown_key_is_named():
    with pytest.raises(UserError, match=r"protocol: unknown key\(s\) epoch"):
        parse_section(ProtocolParams, {"epoch": 3}, "protocol")


def test_missing_required_key_is_named():
    with pytest.raises(UserError, match=r"features.frames: required key is missing"):
        parse_section(FeatureParams, {"sample_rate": 8000, "n_fft": 256, "hop_length": 128, "n_mels": 16}, "features")


@pytest.mark.parametrize(("value", "message"), [("3", "expected an integer"), (True, "expected an integer")])
def test_wrong_type_is_named(value, message):
    with pytest.raises(UserError, match=rf"protocol.epochs: {message}"):
        parse_section(ProtocolParams, {"epochs": value}, "protocol")


def test_unknown_profile(repo_params):
    with pytest.raises(UserError, match="profile 'nope' is not defined"):
        load_profile(repo_params, "nope")
