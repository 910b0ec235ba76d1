/*
 * The clinic's kyphoplasty chat widget: one <script> tag, no dependencies, no third-party requests.
 *
 *   <script src="https://assistant.example/kyphoplasty-chat.js"
 *           data-server="https://assistant.example" data-clinic-name="Riverside Clinic"
 *           data-accent="#0b5cad" data-greeting="Hello! Ask me about kyphoplasty."
 *           data-emergency-number="911" defer></script>
 *
 * Talks to the assistant's widget channel (POST {server}/webhooks/widget/webhook) and keeps the
 * conversation in sessionStorage, so it survives reloads and navigation within the site.
 * Replies are structured (`custom`, shape in actions/reply.py): every kind is laid out here from
 * its fields (safety note first, text, signs to watch for, numbers to call, quotes and sources).
 * Everything is rendered as text: only http(s) URLs and the numbers to call become links.
 */
(() => {
  "use strict";

  const script = document.currentScript;
  const data = (script && script.dataset) || {};
  const DEFAULT_ACCENT = "#0b5cad";
  const config = {
    server: (data.server || "http://127.0.0.1:5005").replace(/\/+$/, ""),
    clinicName: data.clinicName || "the clinic",
    accent: readableAccent(data.accent) || DEFAULT_ACCENT,
    greeting: data.greeting || "",
    emergencyNumber: data.emergencyNumber || "911",
  };
  const WEBHOOK = `${config.server}/webhooks/widget/webhook`;
  const STORE_KEY = `kyphoplasty-chat:${config.server}`;
  const REQUEST_TIMEOUT_MS = 20000;
  const MAX_MESSAGE_CHARS = 2000;
  const LANGUAGE_CODE = /^[a-z]{2,3}$/;
  const RIGHT_TO_LEFT = ["ar", "fa", "he", "ur"];

  /* ---------- helpers ---------- */

  // An accent is used only if white text on it keeps a 4.5:1 contrast (WCAG AA).
  function readableAccent(value) {
    if (!/^#[0-9a-fA-F]{6}$/.test(value || "")) return null;
    const channel = (i) => {
      const c = parseInt(value.slice(i, i + 2), 16) / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    };
    const luminance = 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
    return 1.05 / (luminance + 0.05) >= 4.5 ? value : null;
  }

  function randomId() {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function element(tag, attributes = {}, text) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function safeHttpUrl(value) {
    try {
      const url = new URL(value);
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch (_) {
      return null;
    }
  }

  // The accessible name keeps the visible text first (WCAG 2.5.3) and says where the link goes.
  function externalLink(href, text, description) {
    const link = element("a", { href, target: "_blank", rel: "noopener noreferrer" }, text);
    const hidden = description ? ` ${description} (opens in a new tab)` : " (opens in a new tab)";
    link.append(element("span", { class: "visually-hidden" }, hidden));
    return link;
  }

  // Text with its http(s) URLs as links; everything else stays text.
  function appendText(parent, text) {
    const pattern = /https?:\/\/[^\s<>"')]+[^\s<>"').,;:!?]/g;
    let last = 0;
    for (const match of text.matchAll(pattern)) {
      parent.append(text.slice(last, match.index));
      const href = safeHttpUrl(match[0]);
      parent.append(href ? externalLink(href, match[0]) : match[0]);
      last = match.index + match[0].length;
    }
    parent.append(text.slice(last));
  }

  function paragraphs(text) {
    const fragment = document.createDocumentFragment();
    for (const part of String(text).split(/\n+/)) {
      const p = element("p");
      appendText(p, part);
      fragment.append(p);
    }
    return fragment;
  }

  /* ---------- state ---------- */

  function loadState() {
    try {
      const saved = JSON.parse(sessionStorage.getItem(STORE_KEY));
      if (saved && typeof saved.sender === "string" && Array.isArray(saved.log)) return saved;
    } catch (_) {
      /* a damaged entry starts a new conversation */
    }
    return { sender: randomId(), open: false, log: [], draft: "" };
  }

  const state = loadState();
  const save = () => {
    try {
      sessionStorage.setItem(STORE_KEY, JSON.stringify(state));
    } catch (_) {
      /* storage full or blocked: the chat still works, without surviving a reload */
    }
  };

  /* ---------- DOM ---------- */

  const host = element("div", { id: "kyphoplasty-chat" });
  const root = host.attachShadow({ mode: "open" });
  root.innerHTML = `
    <style>
      :host { all: initial; --accent: ${config.accent}; --ink: #1a1a1a; --muted: #4a4a4a; --line: #c8c8c8;
              font: 17px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; color: var(--ink); }
      *, *::before, *::after { box-sizing: border-box; }
      button, textarea, a { font: inherit; }
      :focus-visible { outline: 3px solid #1a1a1a; outline-offset: 2px; box-shadow: 0 0 0 5px #fff; }
      .launcher { position: fixed; right: 16px; bottom: 16px; z-index: 2147483000; display: flex; gap: 8px;
                  align-items: center; min-height: 56px; padding: 0 20px; border: 0; border-radius: 28px;
                  background: var(--accent); color: #fff; font-weight: 600; cursor: pointer;
                  box-shadow: 0 4px 14px rgba(0,0,0,.25); }
      .launcher svg { width: 26px; height: 26px; fill: currentColor; }
      .panel { position: fixed; right: 16px; bottom: 88px; z-index: 2147483001; display: flex;
               flex-direction: column; width: min(420px, calc(100vw - 32px));
               height: min(640px, calc(100vh - 110px)); background: #fff; border: 1px solid var(--line);
               border-radius: 12px; box-shadow: 0 8px 30px rgba(0,0,0,.25); overflow: hidden; }
      .panel[hidden] { display: none; }
      .bar { display: flex; align-items: center; gap: 8px; padding: 10px 12px; background: var(--accent); color: #fff; }
      .bar h2 { flex: 1; margin: 0; font-size: 1.05em; line-height: 1.3; }
      .bar small { display: block; font-weight: 400; font-size: .85em; }
      .bar button { min-width: 44px; min-height: 44px; padding: 0 10px; border: 2px solid #fff;
                      border-radius: 8px; background: transparent; color: #fff; cursor: pointer; }
      .notice { margin: 0; padding: 8px 12px; font-size: .85em; background: #f3f3f3; color: var(--ink);
                border-bottom: 1px solid var(--line); }
      .notice a { color: #8a0013; font-weight: 700; }
      .log { position: relative; flex: 1; overflow-y: auto; padding: 12px; display: flex; flex-direction: column; gap: 10px; }
      .message { max-width: 92%; padding: 8px 12px; border-radius: 12px; overflow-wrap: anywhere; }
      .message p { margin: 0 0 6px; } .message p:last-child { margin-bottom: 0; }
      .patient { align-self: flex-end; background: var(--accent); color: #fff; }
      .patient a { color: #fff; }
      .assistant { align-self: flex-start; background: #f1f4f8; border: 1px solid #d5dbe3; }
      .assistant a { color: #0a4f94; }
      details { margin-top: 8px; border-top: 1px solid var(--line); padding-top: 6px; }
      summary { cursor: pointer; min-height: 32px; font-weight: 600; color: #0a4f94; }
      blockquote { margin: 6px 0; padding: 4px 10px; border-left: 4px solid var(--accent); background: #fff; }
      .sources { margin: 6px 0 0; padding-left: 1.4em; font-size: .9em; }
      .sources li { margin-bottom: 4px; }
      .sources li.article { list-style: none; }
      .cite { display: inline-block; min-width: 24px; min-height: 24px; text-align: center; font-weight: 600; }
      .emergency { align-self: stretch; max-width: 100%; background: #fff4f4; border: 3px solid #b00020; }
      .emergency p, .safety p { font-weight: 600; }
      .safety { margin: 0 0 8px; padding: 6px 10px; border-left: 4px solid #b00020; background: #fff4f4; }
      .watch { margin: 4px 0 0; padding-left: 1.3em; }
      .call { display: inline-flex; align-items: center; min-height: 44px; margin: 6px 8px 0 0; padding: 0 16px;
              border-radius: 22px; background: var(--accent); color: #fff !important; font-weight: 700; text-decoration: none; }
      .emergency .call, .safety .call { background: #b00020; }
      .error { align-self: stretch; background: #fff8e1; border: 2px solid #8a5a00; }
      .choices { display: flex; flex-wrap: wrap; gap: 8px; margin-top: 8px; }
      .choices button, .error button { min-height: 44px; padding: 6px 14px; border: 2px solid var(--accent);
              border-radius: 22px; background: #fff; color: #0a4f94; text-align: left; cursor: pointer; }
      .typing { padding: 0 12px 8px; color: var(--muted); font-size: .9em; }
      .typing[hidden] { display: none; }
      .dots::after { content: "…"; display: inline-block; animation: blink 1.2s infinite; }
      @keyframes blink { 50% { opacity: .2; } }
      form { display: flex; gap: 8px; padding: 10px 12px; border-top: 1px solid var(--line); }
      textarea { flex: 1; min-height: 48px; max-height: 140px; padding: 10px; border: 2px solid #767676;
                 border-radius: 10px; resize: vertical; color: var(--ink); background: #fff; }
      form button { min-width: 72px; min-height: 48px; border: 0; border-radius: 10px; background: var(--accent);
                    color: #fff; font-weight: 700; cursor: pointer; }
      form button:disabled { background: #767676; cursor: wait; }
      .visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
      @media (max-width: 480px) {
        .panel { inset: 0; width: 100%; height: 100%; border-radius: 0; }
        :host([data-open]) .launcher { display: none; }
      }
      @media (prefers-reduced-motion: reduce) {
        *, *::before, *::after { animation: none !important; transition: none !important; }
      }
    </style>
    <button class="launcher" type="button" lang="en" aria-expanded="false" aria-controls="panel">
      <svg viewBox="0 0 24 24" aria-hidden="true"><path d="M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2z"/></svg>
      <span>Questions?</span>
    </button>
    <section class="panel" id="panel" role="dialog" lang="en" aria-labelledby="title" hidden>
      <div class="bar">
        <h2 id="title">Kyphoplasty questions<small></small></h2>
        <button class="restart" type="button">Start over</button>
        <button class="close" type="button" aria-label="Close chat">✕</button>
      </div>
      <p class="notice">Please don't share personal details. This is not medical advice.
        In an emergency, call <a class="notice-call"></a>.</p>
      <div class="log" role="log" aria-live="polite" aria-label="Conversation"></div>
      <div class="typing" role="status" hidden><span class="dots">The assistant is typing</span></div>
      <form>
        <label class="visually-hidden" for="question">Your question</label>
        <textarea id="question" rows="1" maxlength="${MAX_MESSAGE_CHARS}" placeholder="Type your question"></textarea>
        <button type="submit">Send</button>
      </form>
    </section>`;

  const $ = (selector) => root.querySelector(selector);
  const launcher = $(".launcher");
  const panel = $(".panel");
  const log = $(".log");
  const typing = $(".typing");
  const form = $("form");
  const input = $("textarea");
  const sendButton = $("form button");
  // The accessible name begins with the visible text (WCAG 2.5.3 label in name).
  launcher.setAttribute("aria-label", `Questions? Chat with ${config.clinicName} about kyphoplasty`);
  $(".bar small").textContent = config.clinicName;
  const noticeCall = $(".notice-call");
  noticeCall.textContent = config.emergencyNumber;
  noticeCall.href = `tel:${config.emergencyNumber.replace(/[^0-9+]/g, "")}`;

  /* ---------- rendering the log ---------- */

  function renderChoices(container, buttons) {
    const choices = element("div", { class: "choices", role: "group", "aria-label": "Suggested questions" });
    for (const button of buttons) {
      if (typeof button.title !== "string" || typeof button.payload !== "string") continue;
      const choice = element("button", { type: "button" }, button.title);
      choice.addEventListener("click", () => send(button.payload, button.title));
      choices.append(choice);
    }
    if (choices.childElementCount) container.append(choices);
  }

  function quoteWithCitations(quote, references) {
    const blockquote = element("blockquote");
    let last = 0;
    for (const match of quote.text.matchAll(/\[(\d+)\]/g)) {
      blockquote.append(quote.text.slice(last, match.index));
      const reference = references.find((r) => r.number === Number(match[1]));
      const href = reference && safeHttpUrl(reference.url);
      blockquote.append(href ? citation(href, reference) : match[0]);
      last = match.index + match[0].length;
    }
    blockquote.append(quote.text.slice(last));
    return blockquote;
  }

  function citation(href, reference) {
    const link = externalLink(href, `[${reference.number}]`, `Source ${reference.number}: ${reference.label}`);
    link.classList.add("cite");
    return link;
  }

  // The quotes and their sources, folded; open when the patient asked for the sources.
  function renderEvidence(bubble, reply) {
    const quotes = Array.isArray(reply.quotes) ? reply.quotes : [];
    const references = Array.isArray(reply.references) ? reply.references : [];
    if (!quotes.length && !references.length) return;
    const details = element("details");
    details.open = reply.kind === "sources";
    const count = quotes.length === 1 ? "1 sentence" : `${quotes.length} sentences`;
    details.append(
      element("summary", {}, quotes.length ? `From the article (${count} and sources)` : `Sources (${references.length})`)
    );
    for (const quote of quotes) details.append(quoteWithCitations(quote, references));
    const sources = element("ol", { class: "sources", "aria-label": "Sources" });
    for (const reference of references) {
      const href = safeHttpUrl(reference.url);
      const item = element("li", { value: String(reference.number) }, `${reference.label} `);
      if (href) item.append(externalLink(href, "Read the source", `Source ${reference.number}`));
      sources.append(item);
    }
    const article = reply.article;
    if (article && safeHttpUrl(article.url)) {
      const item = element("li", { class: "article" }, `Sentences without a number: ${article.publisher}, “${article.title}”. `);
      item.append(externalLink(safeHttpUrl(article.url), "Read the article", "The clinic's article"));
      sources.append(item);
    }
    details.append(sources);
    bubble.append(details);
  }

  // Numbers to call as tap-to-call links (their label is English whatever the reply's language).
  function renderCalls(container, calls) {
    for (const call of Array.isArray(calls) ? calls : []) {
      const tel = String(call.tel || "").replace(/[^0-9+]/g, "");
      if (tel) container.append(element("a", { class: "call", href: `tel:${tel}`, lang: "en", dir: "ltr" }, `Call ${call.number}`));
    }
  }

  // A red flag the patient only mentioned: what to do if it happens now, before anything else.
  function renderSafetyNote(bubble, note) {
    if (!note || typeof note.text !== "string") return;
    const box = element("div", { class: "safety", role: "alert", lang: "en" });
    box.append(paragraphs(note.text));
    renderCalls(box, note.call);
    bubble.append(box);
  }

  // Any structured reply, from its fields; its buttons are added by renderEntry.
  function renderReply(bubble, reply) {
    if (reply.kind === "emergency") bubble.setAttribute("role", "alert");
    if (reply.kind === "other_language" && LANGUAGE_CODE.test(reply.language || "")) {
      bubble.setAttribute("lang", reply.language);
      if (RIGHT_TO_LEFT.includes(reply.language)) bubble.setAttribute("dir", "rtl");
    }
    renderSafetyNote(bubble, reply.safety_note);
    bubble.append(paragraphs(reply.text || ""));
    const signs = Array.isArray(reply.watch_for) ? reply.watch_for : [];
    if (signs.length) {
      const list = element("ul", { class: "watch" });
      for (const sign of signs) list.append(element("li", {}, String(sign)));
      bubble.append(list);
    }
    renderCalls(bubble, reply.call);
    renderEvidence(bubble, reply);
  }

  function renderEntry(entry) {
    const kind = /^[a-z_]+$/.test(entry.kind || "") ? entry.kind : "text";
    const bubble = element("div", { class: `message ${entry.from} ${kind}` });
    if (entry.from === "patient") {
      bubble.append(element("span", { class: "visually-hidden" }, "You said: "), paragraphs(entry.text));
    } else if (entry.payload) {
      renderReply(bubble, entry.payload);
    } else if (kind === "error") {
      bubble.setAttribute("role", "alert");
      bubble.append(paragraphs(entry.text));
      const retry = element("button", { type: "button" }, "Try again");
      retry.addEventListener("click", () => retrySend(entry));
      bubble.append(retry);
    } else {
      bubble.append(paragraphs(entry.text || ""));
    }
    const buttons = entry.buttons || (entry.payload && entry.payload.buttons) || [];
    if (Array.isArray(buttons) && buttons.length) renderChoices(bubble, buttons);
    log.append(bubble);
    // A reply is read from its start; the patient's own message just needs to be in view.
    log.scrollTop = entry.from === "patient" ? log.scrollHeight : bubble.offsetTop - 8;
  }

  function renderLog() {
    log.replaceChildren();
    state.log.forEach(renderEntry);
  }

  function addEntry(entry) {
    state.log.push(entry);
    save();
    renderEntry(entry);
  }

  // A reply of the widget channel: text and buttons, or structure in `custom`.
  function entryFromReply(reply) {
    const custom = reply.custom;
    if (custom && typeof custom === "object" && typeof custom.kind === "string") {
      return { from: "assistant", kind: custom.kind, payload: custom };
    }
    if (typeof reply.text === "string") {
      return { from: "assistant", kind: "text", text: reply.text, buttons: reply.buttons || [] };
    }
    return null;
  }

  /* ---------- talking to the assistant ---------- */

  async function post(message) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
    try {
      const response = await fetch(WEBHOOK, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ sender: state.sender, message }),
        signal: controller.signal,
        credentials: "omit",
        referrerPolicy: "no-referrer",
      });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const replies = await response.json();
      if (!Array.isArray(replies)) throw new Error("unexpected reply");
      return replies;
    } finally {
      clearTimeout(timer);
    }
  }

  function setBusy(busy) {
    typing.hidden = !busy;
    sendButton.disabled = busy;
    log.setAttribute("aria-busy", String(busy));
  }

  async function deliver(message, { greeting = false } = {}) {
    setBusy(true);
    try {
      const entries = (await post(message)).map(entryFromReply).filter(Boolean);
      // The page's own greeting, if it sets one, replaces the assistant's (a reply of kind "text").
      if (greeting && config.greeting && entries.length && entries[0].kind === "text") {
        const first = entries[0];
        if (first.payload) first.payload = { ...first.payload, text: config.greeting, call: [] };
        else first.text = config.greeting;
      }
      entries.forEach(addEntry);
      return true;
    } catch (_) {
      addEntry({
        from: "system",
        kind: "error",
        text: "Sorry, I can't reach the clinic's assistant right now. Please check your connection and try again.",
        retry: message,
        greeting,
      });
      return false;
    } finally {
      setBusy(false);
    }
  }

  async function retrySend(errorEntry) {
    state.log = state.log.filter((entry) => entry !== errorEntry);
    save();
    renderLog();
    await deliver(errorEntry.retry, { greeting: errorEntry.greeting });
  }

  async function send(message, shownAs) {
    const text = message.trim();
    if (!text || sendButton.disabled) return;
    addEntry({ from: "patient", text: shownAs || text });
    await deliver(text);
  }

  function greet() {
    if (!state.log.length) deliver("/greet", { greeting: true });
  }

  /* ---------- opening, closing, keyboard ---------- */

  function setOpen(open, { focus = true } = {}) {
    state.open = open;
    save();
    panel.hidden = !open;
    launcher.setAttribute("aria-expanded", String(open));
    if (open) host.setAttribute("data-open", "");
    else host.removeAttribute("data-open");
    if (open) {
      log.scrollTop = log.scrollHeight;
      if (focus) input.focus();
      greet();
    } else if (focus) {
      launcher.focus();
    }
  }

  launcher.addEventListener("click", () => setOpen(!state.open));
  $(".close").addEventListener("click", () => setOpen(false));
  $(".restart").addEventListener("click", () => {
    state.sender = randomId();
    state.log = [];
    save();
    renderLog();
    input.focus();
    greet();
  });
  panel.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.stopPropagation();
      setOpen(false);
    }
  });
  input.value = state.draft || "";
  input.addEventListener("input", () => {
    state.draft = input.value;
    save();
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value;
    if (!text.trim() || sendButton.disabled) return;
    input.value = "";
    state.draft = "";
    send(text);
  });

  document.body.append(host);
  renderLog();
  setOpen(state.open, { focus: false });
})();
