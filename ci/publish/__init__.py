"""Publishing build results: git branches (gitpython), GitHub pull requests (REST) and registry
review requests — see docs/ci.md. ``stratforge.ci.cirun`` drives them."""

from stratforge.ci.publish.git import PublishError

__all__ = ["PublishError"]
