"""The voice catalog: built-in voices plus the clones a caller may see, with search and a cache."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from anyio import to_thread

from model_store.voices import VoiceStore, is_valid_id
from server.domain.catalog import SYSTEM_AUTHOR, CatalogItem, CatalogPage, CatalogQuery, search, visible_to
from server.domain.errors import Forbidden, NotFound
from server.domain.usage import UsageCounter
from server.services.cache import Cache

CACHE_TTL_S = 60.0  # bounds how stale task_count can be; creation and deletion invalidate at once


class CatalogService:
    def __init__(
        self, voices: VoiceStore, usage: UsageCounter, capabilities: Callable[[], dict[str, Any]], cache: Cache
    ) -> None:
        self._voices = voices
        self._usage = usage
        self._capabilities = capabilities
        self._cache = cache

    def _builtin(self, counts: dict[str, int]) -> list[CatalogItem]:
        described = (self._capabilities().get("tts") or {}).get("voices") or []
        return [
            CatalogItem(
                id=v["id"],
                title=v["title"],
                languages=tuple(v["languages"]),
                engine=v["engine"],
                visibility="public",
                author=SYSTEM_AUTHOR,
                task_count=counts.get(v["id"], 0),
            )
            for v in described
        ]

    def _items(self) -> list[CatalogItem]:
        counts = self._usage.counts()
        clones = [CatalogItem.from_voice(m, task_count=counts.get(m.id, 0)) for m in self._voices.list()]
        return self._builtin(counts) + clones

    def visible(self, owner: str) -> list[CatalogItem]:
        """Every voice `owner` may use: built-ins, public clones and their own (a front-end that
        lists voices at once, such as Wyoming's describe, rather than page by page)."""
        return visible_to(self._items(), owner)

    def page(self, owner: str, query: CatalogQuery, refresh: bool) -> tuple[dict[str, Any], bool]:
        """A page as a JSON-safe dict, and whether it came from the cache."""
        key = self._page_key(owner, query)
        if not refresh and (cached := self._cache.get(key)) is not None:
            return cached, True
        return self._fill(key, owner, query), False

    async def apage(self, owner: str, query: CatalogQuery, refresh: bool) -> tuple[dict[str, Any], bool]:
        """`page` for the event loop: a hit is answered there (the generation is one small file
        read, the cache a dict or an awaited Redis GET); only a miss computes, in a worker thread."""
        key = self._page_key(owner, query)
        if not refresh and (cached := await self._cache.aget(key)) is not None:
            return cached, True
        return await to_thread.run_sync(self._fill, key, owner, query), False

    def _page_key(self, owner: str, query: CatalogQuery) -> str:
        # The generation is read before listing, so a change racing with us only costs a miss.
        scope = {"generation": self._voices.generation(), "owner": owner, "query": asdict(query)}
        return "models:" + hashlib.sha256(json.dumps(scope, sort_keys=True, default=str).encode()).hexdigest()

    def _fill(self, key: str, owner: str, query: CatalogQuery) -> dict[str, Any]:
        page = _page_json(search(self._items(), query, owner))
        self._cache.set(key, page, CACHE_TTL_S)
        return page

    def _lookup(self, owner: str, model_id: str, counts: dict[str, int]) -> CatalogItem | None:
        """One model, if the caller may see it: a single meta.json read, not a listing of the store."""
        if is_valid_id(model_id):
            model = self._voices.get(model_id)
            items = [CatalogItem.from_voice(model, task_count=counts.get(model_id, 0))] if model else []
        else:
            items = [item for item in self._builtin(counts) if item.id == model_id]
        visible = visible_to(items, owner)
        return visible[0] if visible else None

    def get(self, owner: str, model_id: str) -> CatalogItem:
        item = self._lookup(owner, model_id, self._usage.counts())
        if item is None:
            raise NotFound(f"no voice model {model_id!r}", code="model_not_found")
        return item

    def delete(self, owner: str, model_id: str) -> None:
        item = self.get(owner, model_id)  # 404 for someone else's private model: never confirm it exists
        if item.builtin:
            raise Forbidden("built-in voices cannot be deleted")
        if item.author != owner:
            raise Forbidden("only the owner can delete a voice model")
        self._voices.delete(model_id)

    def check_usable(self, owner: str, model_ids: list[str]) -> None:
        """Clones must be the caller's or public. Built-in voices are checked against what the workers
        describe; with no worker reporting yet (distributed, scaled to zero) the worker decides."""
        builtins_known = bool((self._capabilities().get("tts") or {}).get("voices"))
        for model_id in model_ids:
            if self._lookup(owner, model_id, {}) is not None or (not builtins_known and not is_valid_id(model_id)):
                continue
            raise NotFound(f"no voice model {model_id!r}; GET /v1/models lists them", code="model_not_found")


def item_json(item: CatalogItem) -> dict[str, Any]:
    data = asdict(item)
    data["languages"], data["tags"] = list(item.languages), list(item.tags)
    data["created_at"] = item.created_at.isoformat() if item.created_at else None
    return data


def _page_json(page: CatalogPage) -> dict[str, Any]:
    return {"total": page.total, "items": [item_json(i) for i in page.items], "has_more": page.has_more}
