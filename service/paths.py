"""Route templates such as `/v2/models/{name}/infer`, matched against the raw paths requests arrive on.

The middleware in front of the app (body limits, the refusal counter) knows endpoints by path. Open Inference
Protocol paths carry the model name and version, so those endpoints are listed as templates: a raw path is known by
the template it fits, and only the template, never the path a client chose, becomes a metric label.
"""

from __future__ import annotations

from collections.abc import Iterable


def _fits(template: tuple[str, ...], segments: list[str]) -> bool:
    return len(template) == len(segments) and all(
        part == segment or (part.startswith("{") and part.endswith("}") and segment != "")
        for part, segment in zip(template, segments, strict=True)
    )


class PathTemplates:
    """Plain paths (`/predict`) and templates (`/v2/models/{name}`); `template_of` names the one a path fits."""

    def __init__(self, paths: Iterable[str]) -> None:
        listed = list(paths)
        self._plain = frozenset(path for path in listed if "{" not in path)
        self._templates = [(path, tuple(path.split("/"))) for path in listed if "{" in path]

    def template_of(self, path: str) -> str | None:
        if path in self._plain:
            return path
        if self._templates:
            segments = path.split("/")
            for template, parts in self._templates:
                if _fits(parts, segments):
                    return template
        return None

    def __contains__(self, path: object) -> bool:
        return isinstance(path, str) and self.template_of(path) is not None
