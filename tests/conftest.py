"""Settings for the whole suite."""

import os

from hypothesis import settings

# CI must give the same verdict on the same tree: property tests run derandomized (a fixed
# sequence of examples) unless HYPOTHESIS_PROFILE=explore asks for fresh random ones.
settings.register_profile("default", derandomize=True, deadline=None)
settings.register_profile("explore", derandomize=False, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
