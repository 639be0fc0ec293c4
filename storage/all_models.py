"""Import every model module so that ``Base.metadata`` knows the whole schema.

Feature modules add one import line here.
"""

from storage import models  # noqa: F401
from storage import dossier_models  # noqa: F401
from storage import guide_models  # noqa: F401
from storage import complaint_models  # noqa: F401
from storage import handoff_models  # noqa: F401
from storage import console_models  # noqa: F401
from storage import media_models  # noqa: F401
