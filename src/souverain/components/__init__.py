"""Components: their manifests (`roles/<name>/component.yml`) and the catalog that reads them."""

from souverain.components.catalog import Catalog, Component, default_catalog, load_catalog
from souverain.components.manifest import Manifest

__all__ = ["Catalog", "Component", "Manifest", "default_catalog", "load_catalog"]
