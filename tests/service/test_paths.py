"""Route templates matched against raw request paths."""

from __future__ import annotations

from service.paths import PathTemplates

TEMPLATES = PathTemplates(["/predict", "/v2/models/{name}", "/v2/models/{name}/versions/{version}/infer"])


def test_a_plain_path_is_its_own_template() -> None:
    """A listed path without parameters matches only itself."""
    assert "/predict" == TEMPLATES.template_of("/predict")


def test_a_path_is_known_by_the_template_it_fits() -> None:
    """Each {parameter} stands for one non-empty path segment."""
    assert "/v2/models/{name}/versions/{version}/infer" == TEMPLATES.template_of("/v2/models/loans/versions/3/infer")


def test_paths_with_more_fewer_or_empty_segments_fit_no_template() -> None:
    """An extra segment, a missing one or an empty parameter is not the templated endpoint."""
    paths = ["/v2/models/loans/extra", "/v2/models", "/v2/models/", "/predict/"]
    assert [None, None, None, None] == [TEMPLATES.template_of(path) for path in paths]


def test_membership_is_fitting_a_template() -> None:
    """`in` answers whether some listed path or template fits."""
    assert [True, False] == ["/v2/models/loans" in TEMPLATES, "/v2/other" in TEMPLATES]
