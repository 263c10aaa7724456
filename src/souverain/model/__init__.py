"""The suite model: the contract between suite.yml and everything souverain does."""

from souverain.model.components import Components
from souverain.model.suite import Host, Hosting, Suite, Tenant

__all__ = ["Components", "Host", "Hosting", "Suite", "Tenant"]
