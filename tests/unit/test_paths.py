import pytest

from objstore.common.paths import (ApiPath, leading_path, split_api_path, split_object_name,
                                   split_object_path, split_object_ref, split_path)


@pytest.mark.parametrize("path,args,expected", [
    ("/a", (1,), ["a"]),
    ("/a/", (1,), ["a"]),                      # one trailing slash is allowed
    ("/a/b", (1, 2), ["a", "b"]),
    ("/a", (1, 3), ["a", None, None]),
    ("/a/", (1, 2), ["a", ""]),
    ("/d/p/a/c/o/with/slashes", (5, 5, True), ["d", "p", "a", "c", "o/with/slashes"]),
    ("/d/p/a", (3, 5, True), ["d", "p", "a", None, None]),
    ("/d/p/a/c/", (3, 5, True), ["d", "p", "a", "c", ""]),
])
def test_split_path(path, args, expected):
    assert split_path(path, *args) == expected


@pytest.mark.parametrize("path,args", [
    ("", (1,)), ("a", (1,)), ("/", (1,)), ("//a", (1, 2)), ("/a//", (1,)),
    ("/a/b/c", (1, 2)), ("/d/p/a/c/", (5, 5, True)), ("/d//a/c/o", (5, 5, True)),
])
def test_split_path_refuses(path, args):
    with pytest.raises(ValueError):
        split_path(path, *args)


@pytest.mark.parametrize("version", ["v1", "v1.0"])
def test_api_path_on_both_versions(version):
    assert split_api_path(f"/{version}/AUTH_a") == ApiPath(version, "AUTH_a", None, None)
    assert split_api_path(f"/{version}/AUTH_a/c/o/x") == ApiPath(version, "AUTH_a", "c", "o/x")
    assert split_object_path(f"/{version}/AUTH_a/c/o/x") == ("AUTH_a", "c", "o/x")
    assert split_object_path(f"/{version}/AUTH_a/c") is None
    assert split_object_path(f"/{version}/AUTH_a/c/") is None


@pytest.mark.parametrize("path", ["/v2/AUTH_a/c/o", "/v1", "/v1/", "/v1//c/o", "/auth/v1.0", "/info"])
def test_not_api_paths(path):
    assert split_object_path(path) is None
    assert split_api_path(path) is None


@pytest.mark.parametrize("name, expected", [
    ("/a/c/o", ("a", "c", "o")), ("/a/c/d/o/", ("a", "c", "d/o/")), ("/a/c//o", ("a", "c", "/o")),
    ("a/c/o", None), ("/a/c", None), ("/a/c/", None), ("/a//o", None), ("//c/o", None), ("", None),
])
def test_split_object_name(name, expected):
    assert split_object_name(name) == expected


@pytest.mark.parametrize("ref, expected", [
    ("c/o", ("c", "o")), ("/c/o", ("c", "o")), ("c/d/o", ("c", "d/o")), ("//c/o", ("c", "o")),
    ("c", None), ("c/", None), ("/o", None), ("", None),
])
def test_split_object_ref(ref, expected):
    assert split_object_ref(ref) == expected


def test_leading_path():
    assert leading_path("/a/c/o/p", 1) == "/a"
    assert leading_path("/a/c/o/p", 2) == "/a/c"
    assert leading_path("/a", 2) == "/a"
