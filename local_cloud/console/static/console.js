// The local cloud's console: one page, hash routes, no build step. Every value is put in the page as text.
"use strict";

const FINAL = new Set(["COMPLETED", "FAILED", "CANCELLED", "EXPIRED"]);

function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

const SVG = "http://www.w3.org/2000/svg";
function s(tag, attributes = {}, ...children) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) if (value !== undefined) element.setAttribute(name, String(value));
  for (const child of children) element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return element;
}

async function getJSON(path) {
  const response = await fetch(path, { cache: "no-store" });
  const body = await response.json();
  if (!response.ok) throw new Error(body.message || response.status);
  return body;
}

async function act(path, body = {}) {
  const response = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  return { ok: response.ok, status: response.status, body: await response.json() };
}

const clock = (seconds) => new Date(seconds * 1000).toLocaleTimeString([], { hour12: false }) + "." + String(Math.floor((seconds % 1) * 1000)).padStart(3, "0");
const money = (amount, currency) => (amount === null || amount === undefined ? "" : `${(amount / 100).toFixed(2)} ${currency || ""}`);
const badge = (text) => h("span", { class: `badge ${text}`, "data-status": text }, text);
const json = (value) => h("pre", {}, typeof value === "string" ? value : JSON.stringify(value, null, 2));
const folded = (label, value) => (value === null || value === undefined ? "" : h("details", {}, h("summary", {}, label), json(value)));
function table(headings, rows, attributes = {}) {
  return h("table", attributes, h("thead", {}, h("tr", {}, headings.map((heading) => h("th", {}, heading)))), h("tbody", {}, rows));
}
function result(element, answer) {
  element.className = answer.ok ? "result" : "result error";
  element.textContent = answer.ok ? "" : `${answer.status}: ${answer.body.message || JSON.stringify(answer.body)}`;
}

// ---------------------------------------------------------------------------------------------- orders

const orders = {
  filters: { status: "", customer: "" },
  async form(root) {
    const sample = await getJSON("/data/sample-order");
    const outcome = h("span", { class: "result", id: "placed" });
    const body = h("textarea", { name: "order", id: "order-body" }, JSON.stringify(sample));
    const customer = h("select", { name: "customer", id: "order-customer" }, ["alice", "bob"].map((name) => h("option", {}, name)));
    const token = h("input", { name: "paymentToken", id: "order-token", placeholder: "e.g. tok_declined", size: 14 });
    const place = async (event) => {
      event.preventDefault();
      let order;
      try { order = JSON.parse(body.value); } catch (error) { outcome.className = "result error"; outcome.textContent = `not JSON: ${error.message}`; return; }
      if (token.value) order.paymentToken = token.value;
      const answer = await act("/actions/orders", { customer: customer.value, order });
      const placed = answer.ok && answer.body.status === 201;
      outcome.className = placed ? "result" : "result error";
      outcome.replaceChildren(placed
        ? h("span", {}, "placed ", h("a", { href: `#/order/${answer.body.body.orderId}`, id: "placed-link" }, answer.body.body.orderId))
        : `${answer.body.status || answer.status}: ${JSON.stringify(answer.body.body || answer.body)}`);
      refresh();
    };
    const status = h("select", { id: "filter-status", onchange: (event) => { this.filters.status = event.target.value; refresh(); } }, h("option", { value: "" }, "any status"));
    const who = h("select", { id: "filter-customer", onchange: (event) => { this.filters.customer = event.target.value; refresh(); } }, h("option", { value: "" }, "any customer"));
    root.append(
      h("div", { class: "card" }, h("h2", {}, "Place an order"), h("p", { class: "muted" }, "POST /orders on the local API with the demo customer's Cognito token."),
        h("form", { class: "inline", onsubmit: place }, h("label", {}, "customer", customer), h("label", {}, "order (JSON)", body), h("label", {}, "payment token", token), h("button", { type: "submit", id: "place-order" }, "Place order"), outcome)),
      h("form", { class: "inline card" }, h("label", {}, "status", status), h("label", {}, "customer", who)),
    );
  },
  async view() {
    const query = new URLSearchParams(this.filters).toString();
    const data = await getJSON(`/data/orders?${query}`);
    syncOptions(document.getElementById("filter-status"), data.statuses, this.filters.status);
    syncOptions(document.getElementById("filter-customer"), data.customers, this.filters.customer);
    return h("div", {}, h("h2", {}, `Orders (${data.orders.length})`),
      table(["order", "status", "customer", "amount", "placed", "updated", "reason"], data.orders.map((order) =>
        h("tr", { "data-order": order.orderId }, h("td", { class: "mono" }, h("a", { href: `#/order/${order.orderId}` }, order.orderId)), h("td", {}, badge(order.status)),
          h("td", {}, order.customer), h("td", { class: "num" }, money(order.amount, order.currency)), h("td", {}, order.createdAt), h("td", {}, order.updatedAt), h("td", {}, order.reason || ""))), { id: "orders" }));
  },
};

function syncOptions(select, values, chosen) {
  const have = new Set([...select.options].map((option) => option.value));
  for (const value of values) if (!have.has(value)) select.append(h("option", { value }, value));
  select.value = chosen;
}

// ---------------------------------------------------------------------------------------------- one order

const order = {
  async form(root, orderId) {
    const outcome = h("span", { class: "result", id: "paid" });
    const pay = (kind) => async () => {
      outcome.className = "result"; outcome.textContent = "waiting for the payment request…";
      const answer = await act(`/actions/orders/${orderId}/payment`, { outcome: kind });
      outcome.textContent = answer.ok ? `webhook ${kind}: ${answer.body.status}` : ""; if (!answer.ok) result(outcome, answer);
      refresh();
    };
    root.append(h("div", { class: "card" }, h("a", { href: "#/orders" }, "\u2190 orders"), " ",
      h("span", { class: "muted" }, "Payment provider (sandbox): "),
      h("button", { id: "pay-succeeded", onclick: pay("payment.succeeded") }, "Payment succeeded"), " ",
      h("button", { id: "pay-failed", class: "danger", onclick: pay("payment.failed") }, "Payment declined"), outcome));
  },
  async view(orderId) {
    const data = await getJSON(`/data/orders/${orderId}`);
    const summary = data.order;
    for (const button of document.querySelectorAll("#pay-succeeded, #pay-failed")) button.disabled = FINAL.has(summary.status);
    return h("div", {},
      h("div", { class: "card" }, h("h2", {}, "Order ", h("span", { class: "mono" }, summary.orderId), " ", h("span", { id: "order-status" }, badge(summary.status))),
        h("div", {}, `customer ${summary.customer || ""} · ${money(summary.amount, summary.currency)} · tracking ${summary.trackingId || "—"}`, summary.reason ? h("div", { class: "result error", id: "order-reason" }, summary.reason) : "")),
      sagaSection(data.saga),
      h("h2", {}, "Event stream (event store)"),
      table(["v", "type", "occurred", "payload"], data.events.map((event) => h("tr", {}, h("td", { class: "num" }, event.version), h("td", {}, event.type), h("td", {}, event.occurredAt), h("td", {}, folded("data", event.data)))), { id: "event-stream" }),
      h("h2", {}, "Bus events"),
      table(["time", "event", "detail"], data.bus.map((entry) => h("tr", {}, h("td", {}, clock(entry.at)), h("td", {}, entry.text), h("td", {}, folded("event", entry.event))))),
      h("h2", {}, "Queue and stream messages"),
      table(["time", "source", "what happened"], data.messages.map((entry) => h("tr", {}, h("td", {}, clock(entry.at)), h("td", {}, entry.source), h("td", {}, entry.text))), { id: "messages" }),
      h("h2", {}, "Timeline"), h("pre", { class: "timeline", id: "timeline" }, data.timeline.join("\n") || "(nothing yet)"));
  },
};

function sagaSection(saga) {
  const visits = saga.visits;
  const execution = saga.execution;
  return h("div", {}, h("h2", {}, "Saga ", execution ? badge(execution.status) : h("span", { class: "muted" }, "(no execution yet)")),
    h("div", { class: "legend" }, h("span", {}, h("i", { style: "border-color: var(--ok); background:#dafbe1" }), "visited"), h("span", {}, h("i", { style: "border-color: var(--run); background:#ddf4ff" }), "current"),
      h("span", {}, h("i", { style: "border-color: var(--fail); background:#ffebe9" }), "failed"), h("span", {}, h("i", { style: "border-color: var(--comp); border-style: dashed" }), "compensation path (reached by a Catch)")),
    h("div", { class: "saga" }, drawSaga(saga.graph, visits, execution),
      table(["#", "state", "status", "entered", "input", "output", "error"], visits.map((visit) => h("tr", { "data-visit": visit.state },
        h("td", { class: "num" }, visit.step), h("td", {}, visit.state), h("td", {}, badge(visit.status)), h("td", {}, visit.entered.slice(11, 23)),
        h("td", {}, folded("input", visit.input)), h("td", {}, folded("output", visit.output)), h("td", {}, visit.error ? `${visit.error.error}${visit.failures > 1 ? ` (${visit.failures} attempts)` : ""}` : visit.failures ? `succeeded after ${visit.failures} failed attempt(s)` : ""))), { id: "visits", style: "width:auto; flex:1" })));
}

function drawSaga(graph, visits, execution) {
  const W = 180, H = 36, DX = 250, DY = 66, M = 14;
  const place = Object.fromEntries(graph.states.map((state) => [state.name, { x: M + state.column * DX, y: M + state.rank * DY, ...state }]));
  const columns = Math.max(...graph.states.map((state) => state.column)) + 1;
  const ranks = Math.max(...graph.states.map((state) => state.rank)) + 1;
  const svg = s("svg", { class: "graph", id: "saga", width: M * 2 + (columns - 1) * DX + W, height: M * 2 + (ranks - 1) * DY + H });
  svg.append(s("defs", {}, s("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" }, s("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: "#8c959f" }))));
  const taken = new Set(visits.slice(1).map((visit, index) => `${visits[index].state}>${visit.state}`));
  for (const edge of graph.transitions) {
    const from = place[edge.source], to = place[edge.target];
    // Next leaves from the bottom, a Catch from the right side, so the two paths stay apart.
    const catching = edge.kind === "catch";
    const [x1, y1] = catching ? [from.x + W, from.y + H / 2] : [from.x + W / 2, from.y + H];
    const [x2, y2] = [to.x + W / 2 + (catching ? W / 4 : 0), to.y];
    const bend = Math.max(24, (y2 - y1) / 2);
    const path = catching ? `M ${x1} ${y1} C ${x1 + 40} ${y1}, ${x2} ${y2 - bend}, ${x2} ${y2}` : `M ${x1} ${y1} C ${x1} ${y1 + bend}, ${x2} ${y2 - bend}, ${x2} ${y2}`;
    svg.append(s("path", { class: `edge ${edge.kind}${taken.has(`${edge.source}>${edge.target}`) ? " taken" : ""}`, "data-edge": `${edge.source}>${edge.target}`, d: path, "marker-end": "url(#arrow)" },
      s("title", {}, edge.kind === "catch" ? `Catch ${edge.label}` : `Next${edge.label ? ` (${edge.label})` : ""}`)));
  }
  const last = new Map(visits.map((visit) => [visit.state, visit]));
  const current = execution && execution.status === "RUNNING" && visits.length ? visits[visits.length - 1] : null;
  for (const state of Object.values(place)) {
    const visit = last.get(state.name);
    const classes = ["state", state.compensating ? "compensating" : "", visit ? "lit" : "", visit && visit.status === "failed" ? "failed" : "", current && current.state === state.name && current.status === "running" ? "current" : ""];
    const group = s("g", { class: classes.filter(Boolean).join(" "), "data-state": state.name, "data-step": visit ? visit.step : undefined, transform: `translate(${state.x} ${state.y})` },
      s("title", {}, `${state.name} (${state.type})${state.comment ? `: ${state.comment}` : ""}`), s("rect", { width: W, height: H }), s("text", { x: 12, y: 24 }, state.name));
    if (visit) group.append(s("circle", { class: "stepdot", cx: W - 14, cy: H / 2, r: 9 }), s("text", { class: "step", x: W - 14, y: H / 2 + 4, "text-anchor": "middle" }, visit.step));
    svg.append(group);
  }
  return svg;
}

// ---------------------------------------------------------------------------------------------- queues

const queues = {
  async form(root) {
    root.append(h("div", { class: "card", id: "queue-result" }, h("span", { class: "muted" }, "A dead-letter queue of an SQS queue can be redriven to it (SQS's message move task: what waits now is moved, FIFO groups kept).")));
  },
  async view() {
    const data = await getJSON("/data/queues");
    const box = document.getElementById("queue-result");
    const peek = (name) => async () => {
      const messages = await getJSON(`/data/queues/${name}/messages`);
      box.replaceChildren(h("h2", {}, `Messages waiting in ${name}`), table(["message", "group", "receives", "body"], messages.messages.map((message) =>
        h("tr", {}, h("td", { class: "mono" }, message.messageId), h("td", {}, message.group || ""), h("td", { class: "num" }, message.receiveCount), h("td", {}, json(message.body)))), { id: "peeked" }));
    };
    const redrive = (name) => async () => {
      const answer = await act(`/actions/queues/${name}/redrive`);
      box.replaceChildren(h("span", { id: "redriven", class: answer.ok ? "result" : "result error" }, answer.ok ? `${name}: moved ${answer.body.moved} of ${answer.body.toMove} message(s) to ${answer.body.destination}` : `${answer.status}: ${answer.body.message}`));
      refresh();
    };
    return h("div", {}, h("h2", {}, "Queues of the template"),
      table(["queue", "kind", "waiting", "in flight", "delayed", "dead-letter queue", "", ""], data.queues.map((queue) => h("tr", { "data-queue": queue.queue },
        h("td", {}, queue.queue), h("td", {}, `${queue.fifo ? "FIFO" : "standard"}${queue.isDeadLetterQueue ? " · DLQ" : ""}`),
        h("td", { class: "num", "data-count": "visible" }, queue.visible), h("td", { class: "num" }, queue.inFlight), h("td", { class: "num" }, queue.delayed),
        h("td", {}, queue.deadLetterQueue ? `${queue.deadLetterQueue}: ${queue.deadLetterDepth} (after ${queue.maxReceiveCount} receives)` : ""),
        h("td", {}, queue.visible ? h("button", { class: "secondary", "data-peek": queue.queue, onclick: peek(queue.queue) }, "Messages") : ""),
        h("td", {}, queue.redrivesTo ? h("button", { "data-redrive": queue.queue, disabled: !queue.visible, onclick: redrive(queue.queue) }, `Redrive to ${queue.redrivesTo}`) : ""))), { id: "queues" }));
  },
};

// ---------------------------------------------------------------------------------------------- bus and archive

const bus = {
  async form(root) {
    const iso = (date) => new Date(date.getTime() - date.getTimezoneOffset() * 60000).toISOString().slice(0, 19);
    const from = h("input", { type: "datetime-local", step: 1, id: "replay-from", value: iso(new Date(Date.now() - 3600000)) });
    const to = h("input", { type: "datetime-local", step: 1, id: "replay-to", value: iso(new Date(Date.now() + 60000)) });
    const outcome = h("div", { class: "result", id: "replayed" });
    const start = async (event) => {
      event.preventDefault();
      outcome.textContent = "replaying…";
      const answer = await act("/actions/replay", { from: new Date(from.value).toISOString(), to: new Date(to.value).toISOString() });
      if (!answer.ok) { result(outcome, answer); return; }
      const after = (await getJSON("/data/bus")).analytics;
      outcome.replaceChildren(h("div", {}, `${answer.body.replay.ReplayName}: ${answer.body.replay.State}`),
        h("div", {}, "analytics counters before: ", h("code", { id: "analytics-before" }, JSON.stringify(answer.body.analyticsBefore))),
        h("div", {}, "analytics counters after: ", h("code", { id: "analytics-after" }, JSON.stringify(after))));
      refresh();
    };
    root.append(h("div", { class: "card" }, h("h2", {}, "Replay the archive"), h("p", { class: "muted" }, "EventBridge StartReplay of a time range onto the bus. The consumers dedupe by event id, so the analytics counters must not change."),
      h("form", { class: "inline", onsubmit: start }, h("label", {}, "from", from), h("label", {}, "to", to), h("button", { type: "submit", id: "replay" }, "Replay"), outcome)));
  },
  async view() {
    const data = await getJSON("/data/bus");
    return h("div", {},
      h("div", { class: "card" }, `Bus ${data.bus} · archive ${data.archive.name}: ${data.archive.eventCount} events, ${data.archive.retentionDays} days, ${data.archive.state}`),
      h("h2", {}, "Rules and targets"), table(["rule", "pattern", "targets"], data.rules.map((rule) => h("tr", {}, h("td", {}, rule.name, rule.managedBy ? h("div", { class: "muted" }, "managed by the archive") : ""), h("td", {}, json(rule.pattern)), h("td", { class: "mono" }, rule.targets.join("\n"))))),
      h("h2", {}, "Analytics counters"), table(["counter", "orders", "revenue"], data.analytics.map((counter) => h("tr", {}, h("td", {}, counter.id), h("td", { class: "num" }, counter.orders), h("td", { class: "num" }, money(counter.revenue, counter.currency)))), { id: "analytics" }),
      h("h2", {}, "Replays"), table(["replay", "state", "from", "to"], data.replays.map((replay) => h("tr", {}, h("td", {}, replay.ReplayName), h("td", {}, badge(replay.State)), h("td", {}, replay.EventStartTime), h("td", {}, replay.EventEndTime)))),
      h("h2", {}, `Recent events (${data.events.length})`),
      table(["time", "order", "event and rules", "detail"], data.events.map((entry) => h("tr", {}, h("td", {}, clock(entry.at)), h("td", { class: "mono" }, entry.orderId ? h("a", { href: `#/order/${entry.orderId}` }, entry.orderId.slice(0, 8)) : ""), h("td", {}, entry.text), h("td", {}, folded("event", entry.event)))), { id: "bus-events" }));
  },
};

// ---------------------------------------------------------------------------------------------- schedules

const schedules = {
  async form(root) { root.append(h("div", { class: "card", id: "fired" }, h("span", { class: "muted" }, "EventBridge Scheduler schedules of the template; the local cloud fires them when due."))); },
  async view() {
    const data = await getJSON("/data/schedules");
    const fire = (name) => async () => {
      const answer = await act(`/actions/schedules/${name}/fire`);
      const box = document.getElementById("fired");
      box.replaceChildren(answer.ok ? h("div", {}, h("div", { id: "fire-outcome" }, `${name}: ${answer.body.outcome}`), json(answer.body.response)) : h("span", { class: "result error" }, answer.body.message));
      refresh();
    };
    return h("div", {}, h("h2", {}, "Schedules"), table(["schedule", "next due", "last firings", ""], data.schedules.map((schedule) => h("tr", { "data-schedule": schedule.name },
      h("td", {}, schedule.name), h("td", {}, schedule.nextTime || "never"), h("td", { class: "mono" }, schedule.firings.join("\n")), h("td", {}, h("button", { "data-fire": schedule.name, onclick: fire(schedule.name) }, "Fire now")))), { id: "schedules" }));
  },
};

// ---------------------------------------------------------------------------------------------- routing and live updates

const VIEWS = { orders, order, queues, bus, schedules };
let route = null;
let refreshing = null, again = false;
const MIN_REFRESH_MS = 250;

function detailsKey(details) {
  const row = details.closest("tr");
  return `${row ? row.textContent.slice(0, 80) : ""}|${details.querySelector("summary").textContent}`;
}

async function refresh() {
  if (refreshing) { again = true; return; }
  const shown = route;
  refreshing = (async () => {
    try {
      const content = await VIEWS[shown.name].view(shown.argument);
      const view = document.getElementById("view");
      // Unchanged: leave it as it is, with what the reader opened and where they scrolled.
      if (route === shown && view.innerHTML !== content.innerHTML) {
        const opened = new Set([...view.querySelectorAll("details[open]")].map(detailsKey));
        view.replaceChildren(...content.childNodes);
        for (const details of view.querySelectorAll("details")) if (opened.has(detailsKey(details))) details.open = true;
      }
    } catch (error) {
      if (route === shown) document.getElementById("view").replaceChildren(h("div", { class: "result error" }, String(error.message || error)));
    }
  })();
  await refreshing;
  await new Promise((resolve) => setTimeout(resolve, MIN_REFRESH_MS));  // a busy cloud is not asked more than this
  refreshing = null;
  if (again) { again = false; refresh(); }
}

async function navigate() {
  const [, name = "orders", argument] = location.hash.split("/");
  route = { name: VIEWS[name] ? name : "orders", argument: argument && decodeURIComponent(argument) };
  for (const link of document.querySelectorAll("[data-nav]")) link.classList.toggle("current", link.dataset.nav === route.name || (route.name === "order" && link.dataset.nav === "orders"));
  const form = document.getElementById("form");
  form.replaceChildren();
  document.getElementById("view").replaceChildren();
  await VIEWS[route.name].form(form, route.argument);
  await refresh();
}

window.addEventListener("hashchange", navigate);
const live = document.getElementById("live");
const stream = new EventSource("/stream");
stream.addEventListener("open", () => { live.textContent = "live"; live.classList.add("on"); });
stream.addEventListener("error", () => { live.textContent = "reconnecting"; live.classList.remove("on"); });
stream.addEventListener("changed", () => { if (route) refresh(); });
navigate();
