// Entry point: the key form, the tabs (arrow keys move between them) and the panels' set-up.

import { api, apiKey } from "./api.js";
import { setupClone } from "./clone.js";
import { refreshStatus } from "./status.js";
import { setupStt } from "./stt.js";
import { refreshVoices, setupTts } from "./tts.js";
import { $, clearError, guarded, showError } from "./ui.js";
import { load as loadVoices, setOwner, setupVoices } from "./voices.js";

const TABS = ["stt", "tts", "clone", "voices", "status"];

function selectTab(name, focus = false) {
  for (const tab of TABS) {
    const button = $(`#tab-${tab}`);
    const active = tab === name;
    button.setAttribute("aria-selected", String(active));
    button.tabIndex = active ? 0 : -1;
    $(`#panel-${tab}`).hidden = !active;
    if (active && focus) button.focus();
  }
  if (location.hash !== `#${name}`) history.replaceState(null, "", `#${name}`);
  if (name === "voices") loadVoices().catch(showError);
  if (name === "status") refreshStatus().catch(showError);
}

function setupTabs() {
  TABS.forEach((name, index) => {
    const button = $(`#tab-${name}`);
    button.addEventListener("click", () => selectTab(name));
    button.addEventListener("keydown", (event) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
      if (step) selectTab(TABS[(index + step + TABS.length) % TABS.length], true);
      if (event.key === "Home") selectTab(TABS[0], true);
      if (event.key === "End") selectTab(TABS[TABS.length - 1], true);
    });
  });
  const wanted = location.hash.slice(1);
  selectTab(TABS.includes(wanted) ? wanted : "stt");
}

function keyStatus(text, ok) {
  const status = $("#key-status");
  status.textContent = text;
  status.className = `key-status ${ok ? "ok" : "bad"}`;
}

// Check the key against the server, then fill what needs one (voice pickers, owner).
async function connect() {
  const usage = await api("v1/usage");
  setOwner(usage.owner);
  keyStatus(`Connected as ${usage.owner}${usage.plan ? ` (${usage.plan} plan)` : ""}`, true);
  await refreshVoices();
}

function setupKey() {
  const input = $("#api-key");
  input.value = apiKey.get();
  $("#key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const key = input.value.trim();
    if (!key) {
      showError(new Error("Paste an API key first."));
      return;
    }
    apiKey.set(key);
    guarded(event.submitter, () =>
      connect().catch((err) => {
        keyStatus(err.status === 401 ? "Key refused" : "Not connected", false);
        throw err;
      }),
    );
  });
  $("#key-forget").addEventListener("click", () => {
    apiKey.clear();
    input.value = "";
    setOwner(null);
    keyStatus("No key", false);
    clearError();
  });
  $("#error-close").addEventListener("click", clearError);
  if (apiKey.get()) {
    connect().catch((err) => {
      keyStatus("Key refused", false);
      showError(err);
    });
  } else {
    // No key yet: a server with authentication off answers anyway, and the page is ready at once.
    connect().catch(() => keyStatus("Enter your API key to start", false));
  }
}

window.addEventListener("unhandledrejection", (event) => showError(event.reason));
setupStt();
setupTts();
setupClone(selectTab);
setupVoices();
setupTabs();
setupKey();
$("#status-refresh").addEventListener("click", (event) => guarded(event.currentTarget, refreshStatus));
