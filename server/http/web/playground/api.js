// The one way the page talks to the server: relative /v1 paths (so it works behind a path
// prefix), the key from localStorage in the Authorization header (never in a URL), and every
// failure turned into an ApiError carrying the API's own error.message.

const KEY_STORAGE = "voice-api-key";

export class ApiError extends Error {
  constructor(code, message, status) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

export const apiKey = {
  get: () => localStorage.getItem(KEY_STORAGE) || "",
  set: (key) => localStorage.setItem(KEY_STORAGE, key),
  clear: () => localStorage.removeItem(KEY_STORAGE),
};

async function errorOf(response) {
  let code = `http_${response.status}`;
  let message = `${response.status} ${response.statusText || "error"}`;
  try {
    const body = await response.json();
    if (body && body.error) {
      code = body.error.code || code;
      message = body.error.message || message;
    }
  } catch {
    // not JSON (a proxy's error page): keep the status line
  }
  return new ApiError(code, message, response.status);
}

// api("v1/models", {query: {...}}) -> parsed JSON; {form: FormData} or {json: obj} for bodies;
// {as: "blob" | "text" | "response"} for other results.
export async function api(path, { method = "GET", query, json, form, as = "json" } = {}) {
  const headers = {};
  const key = apiKey.get();
  if (key) headers.Authorization = `Bearer ${key}`;
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form) {
    body = form;
  }
  let url = path;
  if (query) {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(query)) {
      for (const item of [].concat(value)) {
        if (item !== undefined && item !== null && item !== "") params.append(name, String(item));
      }
    }
    if ([...params].length) url += `?${params}`;
  }
  let response;
  try {
    response = await fetch(url, { method, headers, body });
  } catch (err) {
    throw new ApiError("network", `The server could not be reached (${err.message}).`, 0);
  }
  if (!response.ok) throw await errorOf(response);
  if (as === "response") return response;
  if (as === "blob") return response.blob();
  if (as === "text") return response.text();
  return response.status === 204 ? null : response.json();
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Poll a task route until it ends; onProgress(task) sees every state. A failed task becomes an
// ApiError with the task's error code and message (the clone gate's plain-words reason, say).
export async function waitForTask(route, onProgress, intervalMs = 400) {
  for (;;) {
    const task = await api(route);
    onProgress(task);
    if (task.status === "succeeded") return task;
    if (task.status === "failed") {
      const error = task.error || {};
      throw new ApiError(error.code || "task_failed", error.message || "the task failed", 200);
    }
    await sleep(intervalMs);
  }
}
