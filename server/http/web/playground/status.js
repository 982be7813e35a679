// Status: the server's health (engines, workers, queues; public) and the key's plan, request
// budget and monthly quotas.

import { api, apiKey } from "./api.js";
import { $, el } from "./ui.js";

function pill(ok, yes, no) {
  return el("span", { class: `pill ${ok ? "ok" : "bad"}`, text: ok ? yes : no });
}

function summary(value) {
  if (value === null || value === undefined) return "—";
  if (Array.isArray(value)) return value.length ? value.map(summary).join(", ") : "—";
  if (typeof value === "object") {
    return Object.entries(value)
      .filter(([, v]) => v !== null && v !== undefined && typeof v !== "object")
      .map(([k, v]) => `${k}: ${v}`)
      .join(" · ");
  }
  return String(value);
}

function list(pairs) {
  return el("dl", { class: "kv" }, ...pairs.flatMap(([term, value]) => [el("dt", { text: term }), el("dd", {}, value)]));
}

async function health() {
  // Health answers 503 with the same body when the queue is down: read it either way.
  const response = await fetch("v1/health");
  const body = await response.json();
  const engines = Object.entries(body.engines || {}).map(([capability, info]) => [
    capability,
    el("span", {}, pill(info.available, "available", "unavailable"), " ", summary(info)),
  ]);
  const depths = Object.entries(body.queue?.depths || {}).map(([q, n]) => `${q}: ${n}`).join(" · ") || "—";
  $("#status-health").replaceChildren(
    list([
      ["status", pill(body.status === "ok", "ok", body.status)],
      ["mode", body.mode],
      ["queue", el("span", {}, pill(body.queue?.reachable, "reachable", "unreachable"), " ", body.queue?.detail || "")],
      ["waiting tasks", depths],
      ["workers", String((body.workers || []).length)],
      ...engines,
    ]),
  );
}

function quotaRow(name, quota) {
  const label = name.replaceAll("_", " ");
  if (quota.limit === null || quota.limit === undefined) return [label, `${quota.used} used · no limit`];
  return [
    label,
    el(
      "span",
      {},
      el("progress", { max: quota.limit, value: Math.min(quota.used, quota.limit), "aria-label": `${label} used` }),
      ` ${quota.used} of ${quota.limit} this month`,
    ),
  ];
}

export async function usage() {
  const target = $("#status-usage");
  let body;
  try {
    body = await api("v1/usage");
  } catch (err) {
    if (err.status !== 401 || apiKey.get()) throw err;
    target.replaceChildren(el("p", { class: "muted", text: "Enter a key to see its plan and usage." }));
    return null;
  }
  const limit = body.requests?.limit_per_hour;
  const requests =
    limit === null || limit === undefined
      ? "no hourly limit on task submissions"
      : `${body.requests.remaining ?? limit} of ${limit} task submissions left this hour`;
  target.replaceChildren(
    list([
      ["owner", body.owner],
      ["plan", body.plan ?? "none (authentication is off)"],
      ["requests", requests],
      ...Object.entries(body.quotas || {}).map(([name, quota]) => quotaRow(name, quota)),
    ]),
  );
  return body;
}

export async function refreshStatus() {
  await Promise.all([health(), usage()]);
}
