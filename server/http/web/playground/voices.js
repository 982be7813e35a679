// Voices: the catalog with fuzzy name search, tag and language filters, sorting and pages;
// the caller's own clones can be deleted.

import { api } from "./api.js";
import { refreshVoices } from "./tts.js";
import { $, el, guarded, showError } from "./ui.js";

const PAGE_SIZE = 10;
let page = 1;
let owner = null; // from /v1/usage: whose clones the delete buttons are for

export function setOwner(name) {
  owner = name;
}

function tags(values) {
  return values.length ? values.map((v) => el("span", { class: "tag", text: v })) : el("span", { class: "muted", text: "—" });
}

async function remove(item, button) {
  if (!window.confirm(`Delete the voice “${item.title}”? This cannot be undone.`)) return;
  await guarded(button, async () => {
    await api(`v1/models/${encodeURIComponent(item.id)}`, { method: "DELETE" });
    await load(true);
    await refreshVoices({ refresh: true });
  });
}

function row(item) {
  const own = item.author === owner && item.author !== "system";
  const actions = own
    ? el("button", {
        type: "button",
        class: "danger",
        text: "Delete",
        "aria-label": `Delete ${item.title}`,
        onclick: (event) => remove(item, event.currentTarget),
      })
    : "";
  return el(
    "tr",
    { "data-id": item.id },
    el("td", {}, el("strong", { text: item.title }), item.description ? el("div", { class: "muted", text: item.description }) : ""),
    el("td", {}, el("code", { text: item.id })),
    el("td", {}, tags(item.languages)),
    el("td", {}, tags(item.tags)),
    el("td", { text: item.engine }),
    el("td", { text: String(item.task_count) }),
    el("td", {}, actions),
  );
}

export async function load(refresh = false) {
  const query = {
    page_size: PAGE_SIZE,
    page_number: page,
    title: $("#voices-title").value.trim() || undefined,
    tag: $("#voices-tag").value.trim() || undefined,
    language: $("#voices-language").value.trim() || undefined,
    sort_by: $("#voices-sort").value,
    self: $("#voices-mine").checked ? "true" : undefined,
    refresh: refresh ? "true" : undefined,
  };
  const result = await api("v1/models", { query });
  $("#voices-table tbody").replaceChildren(...result.items.map(row));
  const pages = Math.max(1, Math.ceil(result.total / PAGE_SIZE));
  $("#voices-count").textContent = `${result.total} voice${result.total === 1 ? "" : "s"}`;
  $("#voices-page").textContent = `Page ${page} of ${pages}`;
  $("#voices-prev").disabled = page <= 1;
  $("#voices-next").disabled = !result.has_more;
}

export function setupVoices() {
  $("#voices-form").addEventListener("submit", (event) => {
    event.preventDefault();
    page = 1;
    load().catch(showError);
  });
  $("#voices-sort").addEventListener("change", () => load().catch(showError));
  $("#voices-mine").addEventListener("change", () => {
    page = 1;
    load().catch(showError);
  });
  $("#voices-prev").addEventListener("click", () => {
    page = Math.max(1, page - 1);
    load().catch(showError);
  });
  $("#voices-next").addEventListener("click", () => {
    page += 1;
    load().catch(showError);
  });
}
