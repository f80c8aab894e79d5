"""The BentoML service (`service.app:Driftline`) and the plain modules it delegates to.

Nothing imports this package: the CLI starts it as a process with `bentoml serve`.
"""

__all__: list[str] = []
