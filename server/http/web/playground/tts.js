// Text to speech: a script editor with speaker-marker and cue buttons (the server's own cue
// list), one voice picker per speaker fed by /v1/models (fuzzy search), speed and format; the
// audio plays when the task finishes and the script's warnings are listed beside the text.

import { api, waitForTask } from "./api.js";
import { $, el, guarded, progressReporter, showError } from "./ui.js";

const MAX_SPEAKERS = 8;
let speakers = 2;
const pickers = []; // {row, search, select}

function insertAtCursor(text) {
  const area = $("#tts-text");
  const start = area.selectionStart ?? area.value.length;
  const end = area.selectionEnd ?? start;
  const before = area.value.slice(0, start);
  const spaced = (before && !/\s$/.test(before) ? " " : "") + text + " ";
  area.value = before + spaced + area.value.slice(end);
  area.focus();
  area.selectionStart = area.selectionEnd = start + spaced.length;
}

async function loadCues() {
  const select = $("#tts-cue");
  try {
    const cues = await api("v1/tts/cues");
    const group = (label, items) =>
      el("optgroup", { label }, ...items.map((c) => el("option", { value: c.name, text: c.name })));
    select.replaceChildren(group("Emotions and styles", cues.styles), group("Sounds and pauses", cues.events));
  } catch (err) {
    showError(err);
  }
}

function voiceOption(item) {
  const extra = [item.languages.join(", "), item.visibility === "private" ? "your clone" : ""].filter(Boolean);
  return el("option", { value: item.id, text: `${item.title}${extra.length ? ` (${extra.join(" · ")})` : ""}` });
}

async function fillPicker(picker, { refresh = false, select: wanted } = {}) {
  const keep = wanted || picker.select.value;
  const page = await api("v1/models", {
    query: { page_size: 100, title: picker.search.value.trim() || undefined, refresh: refresh ? "true" : undefined },
  });
  picker.select.replaceChildren(...page.items.map(voiceOption));
  if (!page.items.length) picker.select.append(el("option", { value: "", text: "no voice matches" }));
  if (keep && page.items.some((item) => item.id === keep)) picker.select.value = keep;
}

function debounce(fn, ms) {
  let timer;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

function makePicker(index) {
  const search = el("input", {
    type: "search",
    id: `tts-voice-search-${index}`,
    placeholder: "search voices",
    "aria-label": `Search voices for speaker ${index}`,
  });
  const select = el("select", { id: `tts-voice-${index}`, "aria-label": `Voice of speaker ${index}` });
  const row = el(
    "div",
    { class: `voice-row spk-${index % 8}` },
    el("label", { for: `tts-voice-${index}`, text: `Speaker ${index}` }),
    el("div", { class: "row" }, search, select),
  );
  const picker = { row, search, select };
  search.addEventListener(
    "input",
    debounce(() => fillPicker(picker).catch(showError), 250),
  );
  return picker;
}

function renderSpeakers() {
  while (pickers.length < speakers) pickers.push(makePicker(pickers.length));
  $("#tts-voices").replaceChildren(...pickers.slice(0, speakers).map((p) => p.row));
  $("#tts-marker-buttons").replaceChildren(
    ...pickers.slice(0, speakers).map((_, i) =>
      el("button", {
        type: "button",
        class: "secondary",
        text: `Speaker ${i}`,
        title: `Insert <|speaker:${i}|>: what follows is spoken by speaker ${i}`,
        onclick: () => insertAtCursor(`<|speaker:${i}|>`),
      }),
    ),
  );
  $("#tts-add-speaker").disabled = speakers >= MAX_SPEAKERS;
  $("#tts-remove-speaker").disabled = speakers <= 1;
}

// Called when a key is saved and after a clone: every picker lists the current catalog.
export async function refreshVoices(options = {}) {
  await Promise.all(
    pickers.map((picker, i) => fillPicker(picker, i === 0 ? options : { refresh: options.refresh })),
  );
}

function showWarnings(warnings) {
  // the server's messages already say where (e.g. "unknown cue [x] at character 12 was ignored")
  $("#tts-warnings").replaceChildren(...(warnings || []).map((w) => el("li", { text: w.message })));
}

async function synthesise() {
  const text = $("#tts-text").value;
  if (!text.trim()) throw new Error("Write something to say first.");
  const modelIds = pickers.slice(0, speakers).map((p) => p.select.value);
  if (modelIds.some((id) => !id)) throw new Error("Pick a voice for every speaker.");
  const bar = $("#tts-progress");
  const label = $("#tts-progress-text");
  const report = progressReporter(bar, label);
  const audio = $("#tts-audio");
  showWarnings([]);
  bar.value = 0;
  const task = await api("v1/tts", {
    method: "POST",
    json: { text, model_ids: modelIds, speed: Number($("#tts-speed").value), format: $("#tts-format").value },
  });
  report(task);
  const done = await waitForTask(`v1/tts/${task.task_id}`, report);
  const result = done.result || {};
  showWarnings(result.warnings);
  label.textContent = `done · ${Number(result.duration || 0).toFixed(1)} s of audio`;
  const blob = await api(`v1/tts/${task.task_id}/audio`, { as: "blob" });
  if (audio.src) URL.revokeObjectURL(audio.src);
  audio.src = URL.createObjectURL(blob);
  audio.hidden = false;
  const link = $("#tts-download");
  link.href = audio.src;
  link.download = `speech-${task.task_id}.${result.format || "mp3"}`;
  link.hidden = false;
  audio.play().catch(() => {}); // autoplay may be refused; the controls are there
}

export function setupTts() {
  renderSpeakers();
  loadCues();
  $("#tts-cue-insert").addEventListener("click", () => insertAtCursor(`[${$("#tts-cue").value}]`));
  $("#tts-add-speaker").addEventListener("click", () => {
    speakers += 1;
    renderSpeakers();
    fillPicker(pickers[speakers - 1]).catch(showError);
  });
  $("#tts-remove-speaker").addEventListener("click", () => {
    speakers -= 1;
    renderSpeakers();
  });
  const speed = $("#tts-speed");
  speed.addEventListener("input", () => ($("#tts-speed-value").textContent = `${Number(speed.value).toFixed(2)}×`));
  $("#tts-form").addEventListener("submit", (event) => {
    event.preventDefault();
    guarded($("#tts-submit"), synthesise);
  });
}

// Put a voice (a new clone) on speaker 0 and show the panel.
export function useVoice(modelId) {
  pickers[0].search.value = "";
  return fillPicker(pickers[0], { refresh: true, select: modelId });
}
