"""What both quote samples share: reading their settings from AWS, and the product catalog.

Plain functions, no inits: each sample declares its own ``@warm_init``s around them.
"""

from __future__ import annotations

import os
import random
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Settings:
    api_url: str
    api_token: str


def load_settings() -> Settings:
    """The quotes API's URL (SSM Parameter Store) and token (Secrets Manager). Blocking: boto3.

    boto3 is imported here, not at the top of the module: this runs in lambda-warmup's worker
    thread, so its import and first client (~150 ms; ~400 ms without ``.pyc``, as ``sam build``
    leaves the function's dependencies) overlap the other inits instead of lengthening the
    handler module's import. On Lambda the endpoint, region and credentials come from the
    environment; the demo points ``AWS_ENDPOINT_URL`` at a local moto server.
    """
    import boto3  # type: ignore[import-untyped]
    from botocore.config import Config  # type: ignore[import-untyped]

    session = boto3.session.Session()  # one per thread: boto3's default session is not safe
    config = Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 2})
    ssm = session.client("ssm", config=config)
    secrets = session.client("secretsmanager", config=config)
    url = ssm.get_parameter(Name=os.environ["API_URL_PARAMETER"])["Parameter"]["Value"]
    token = secrets.get_secret_value(SecretId=os.environ["API_TOKEN_SECRET"])["SecretString"]
    return Settings(api_url=str(url), api_token=str(token))


_ADJECTIVES = [
    "red",
    "blue",
    "green",
    "oak",
    "steel",
    "linen",
    "velvet",
    "compact",
    "folding",
    "modern",
    "rustic",
    "tall",
]
_NOUNS = [
    "chair",
    "table",
    "lamp",
    "desk",
    "shelf",
    "sofa",
    "stool",
    "rug",
    "mirror",
    "bench",
    "cabinet",
    "bed",
]


@dataclass(frozen=True)
class Catalog:
    """Products by SKU, indexed by name and by word: the sample's "model" or "cache"."""

    products: dict[str, dict[str, Any]]
    by_name: dict[str, list[str]]
    """Product name -> SKUs, best rated first."""
    by_word: dict[str, set[str]]
    """Word -> product names holding it."""

    def search(self, query: str, limit: int = 3) -> list[dict[str, Any]]:
        """The best rated products whose names hold every word of ``query``."""
        words = re.findall(r"[a-z]+", query.lower())
        if not words:
            return []
        names = set.intersection(*(self.by_word.get(word, set()) for word in words))
        best = [sku for name in names for sku in self.by_name[name][:limit]]
        best.sort(key=lambda sku: (-self.products[sku]["rating"], sku))
        return [self.products[sku] for sku in best[:limit]]


def build_catalog(size: int | None = None) -> Catalog:
    """Loads the catalog and indexes it: CPU-bound, about 1 s for the default 300 000 products.

    A stand-in for what a real function loads at INIT (a model, a rules file, a cache warmed from
    S3 or DynamoDB); here the products are generated from a fixed seed, so no data ships with the
    sample. ``CATALOG_SIZE`` sets the number of products.
    """
    size = size if size is not None else int(os.environ.get("CATALOG_SIZE", "300000"))
    rng = random.Random(6)
    products: dict[str, dict[str, Any]] = {}
    by_name: defaultdict[str, list[str]] = defaultdict(list)
    for n in range(size):
        sku = f"SKU-{n:06d}"
        name = f"{rng.choice(_ADJECTIVES)} {rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}"
        products[sku] = {"sku": sku, "name": name, "rating": round(rng.uniform(1, 5), 1)}
        by_name[name].append(sku)
    by_word: defaultdict[str, set[str]] = defaultdict(set)
    for name, skus in by_name.items():
        skus.sort(key=lambda sku: (-products[sku]["rating"], sku))
        for word in name.split():
            by_word[word].add(name)
    return Catalog(products=products, by_name=dict(by_name), by_word=dict(by_word))
