"""The BentoML service (`driftline.service.app:Driftline`) and the plain modules it delegates to."""
