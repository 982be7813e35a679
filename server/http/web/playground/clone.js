// Clone a voice: upload or record a reference with a live timer against the server's minimum
// and maximum; the quality gate's refusal in plain words; the new voice at once in the pickers,
// with a sample sentence to hear it.

import { api, waitForTask } from "./api.js";
import { Recorder } from "./recorder.js";
import { refreshVoices, useVoice } from "./tts.js";
import { $, dropZone, el, guarded, progressReporter, showError } from "./ui.js";

const limits = { min_speech_s: 10, max_audio_s: 120 }; // replaced by the server's at start
let reference = null;
let modelId = null;
let recorder = null;
let selectTab = () => {};

// Headings for the gate's codes; the server's message says the measured figures.
const REASONS = {
  audio_too_short: "Too short: not enough speech",
  audio_too_long: "Too long",
  no_speech: "No speech found",
  multiple_speakers: "More than one speaker",
  poor_quality: "Poor audio quality (noise, clipping or a very low level)",
  clone_rejected: "The clip cannot be used",
  unsupported_audio: "This file is not audio the server can read",
  empty_audio: "The file holds no audio",
  upload_too_large: "The file is too large",
};

function showLength(seconds) {
  const fill = $("#clone-meter-fill");
  fill.style.width = `${Math.min(100, (seconds / limits.max_audio_s) * 100)}%`;
  fill.classList.toggle("enough", seconds >= limits.min_speech_s);
  let verdict;
  if (seconds > limits.max_audio_s) verdict = `over the ${limits.max_audio_s} s maximum`;
  else if (seconds < limits.min_speech_s) verdict = `${(limits.min_speech_s - seconds).toFixed(1)} s more needed`;
  else verdict = "long enough";
  $("#clone-length").textContent = `${seconds.toFixed(1)} s / minimum ${limits.min_speech_s} s · ${verdict}`;
}

function useReference(file) {
  reference = file;
  const player = $("#clone-audio");
  if (player.src) URL.revokeObjectURL(player.src);
  player.src = URL.createObjectURL(file);
  player.hidden = false;
  // The file's own duration, once the browser has read its header.
  player.addEventListener("loadedmetadata", () => Number.isFinite(player.duration) && showLength(player.duration), {
    once: true,
  });
}

function showRejected(err) {
  const box = $("#clone-rejected");
  box.replaceChildren(el("h3", { text: REASONS[err.code] || "The voice could not be created" }), el("p", { text: err.message }));
  box.hidden = false;
}

async function create() {
  if (!reference) throw new Error("Choose, drop or record a reference clip first.");
  const title = $("#clone-title").value.trim();
  if (!title) {
    $("#clone-title").focus();
    throw new Error("Give the new voice a name.");
  }
  $("#clone-rejected").hidden = true;
  $("#clone-done").hidden = true;
  const form = new FormData();
  form.append("file", reference, reference.name || "reference");
  form.append("title", title);
  for (const name of ["description", "tags", "languages", "visibility"]) {
    const value = $(`#clone-${name}`).value.trim();
    if (value) form.append(name, value);
  }
  const bar = $("#clone-progress");
  const label = $("#clone-progress-text");
  const report = progressReporter(bar, label);
  bar.value = 0;
  let done;
  try {
    const task = await api("v1/clone", { method: "POST", form });
    report(task);
    done = await waitForTask(`v1/clone/${task.task_id}`, report);
  } catch (err) {
    label.textContent = "refused";
    showRejected(err);
    return;
  }
  modelId = done.result.model_id;
  label.textContent = "done";
  $("#clone-done-text").textContent = `“${title}” is ready (${modelId}). It is now in every voice picker.`;
  $("#clone-done").hidden = false;
  await refreshVoices({ refresh: true, select: modelId });
}

async function playSample() {
  const text = $("#clone-sample-text").value.trim() || "Hello! This is my new voice.";
  const task = await api("v1/tts", { method: "POST", json: { text, model_ids: [modelId], format: "mp3" } });
  await waitForTask(`v1/tts/${task.task_id}`, () => {});
  const blob = await api(`v1/tts/${task.task_id}/audio`, { as: "blob" });
  const audio = $("#clone-sample-audio");
  audio.src = URL.createObjectURL(blob);
  audio.hidden = false;
  audio.play().catch(() => {});
}

async function loadLimits() {
  try {
    Object.assign(limits, await api("v1/clone/limits"));
  } catch {
    // an older server: keep the documented defaults
  }
  document.querySelectorAll(".clone-min").forEach((node) => (node.textContent = limits.min_speech_s));
  document.querySelectorAll(".clone-max").forEach((node) => (node.textContent = limits.max_audio_s));
  $("#clone-meter-min").style.left = `${(limits.min_speech_s / limits.max_audio_s) * 100}%`;
}

export function setupClone(tabSelector) {
  selectTab = tabSelector;
  loadLimits();
  dropZone($("#clone-file").closest("label"), $("#clone-file"), useReference);
  const button = $("#clone-record");
  button.addEventListener("click", async () => {
    if (recorder && recorder.recording) {
      recorder.stop();
      return;
    }
    recorder = new Recorder({ onTick: showLength, maxSeconds: limits.max_audio_s });
    try {
      await recorder.start();
    } catch (err) {
      showError(err);
      return;
    }
    button.setAttribute("aria-pressed", "true");
    button.textContent = "■ Stop recording";
    const file = await recorder.done;
    button.setAttribute("aria-pressed", "false");
    button.textContent = "● Record a reference";
    $("#clone-file").value = ""; // the recording replaces any picked file
    useReference(file);
  });
  $("#clone-form").addEventListener("submit", (event) => {
    event.preventDefault();
    guarded($("#clone-submit"), create);
  });
  $("#clone-sample").addEventListener("click", (event) => guarded(event.currentTarget, playSample));
  $("#clone-use").addEventListener("click", async () => {
    await useVoice(modelId).catch(showError);
    selectTab("tts");
  });
}
