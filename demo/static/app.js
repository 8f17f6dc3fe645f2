/* Demo EHR sidebar. Builds a CDS Hooks request for the chosen demo patient and hook, POSTs it to the
 * service's real endpoint (with fhirServer = the demo FHIR server and no prefetch, so the service
 * fetches what it needs over HTTP), renders the cards as an EHR sidebar would, and sends feedback to
 * the real feedback endpoint, then shows the row the service recorded. */
(function () {
  "use strict";

  var state = { config: null, services: [], patients: [], drafts: {}, current: null };
  var $ = function (id) { return document.getElementById(id); };
  var esc = function (t) { return window.DemoMarkdown.escapeHtml(t == null ? "" : t); };

  function uuid() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") { return window.crypto.randomUUID(); }
    var b = new Uint8Array(16);
    window.crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  function setStatus(text, stateName) {
    var el = $("status");
    el.textContent = text;
    el.setAttribute("data-state", stateName);
  }

  function getJson(url, options) {
    return fetch(url, options).then(function (resp) {
      return resp.text().then(function (body) {
        var data = null;
        try { data = body ? JSON.parse(body) : null; } catch (e) { data = { raw: body }; }
        if (!resp.ok) {
          var err = new Error("HTTP " + resp.status + " from " + url + ": " + (data && (data.error_description ||
            data.message || data.error || (data.issue && data.issue[0] && data.issue[0].diagnostics)) || body));
          err.status = resp.status; err.data = data;
          throw err;
        }
        return data;
      });
    });
  }

  function qty(vq) {
    if (!vq) { return ""; }
    return (vq.comparator || "") + vq.value + " " + (vq.unit || vq.code || "");
  }

  function ageOn(birthDate, today) {
    var b = new Date(birthDate + "T00:00:00Z"), t = new Date(today + "T00:00:00Z");
    var age = t.getUTCFullYear() - b.getUTCFullYear();
    if (t.getUTCMonth() < b.getUTCMonth() || (t.getUTCMonth() === b.getUTCMonth() && t.getUTCDate() < b.getUTCDate())) { age--; }
    return age;
  }

  function showPatient() {
    var p = state.current;
    var fhir = state.config.fhirServer;
    $("scenario").innerHTML = "<strong>Scenario " + esc(p.scenario) + ":</strong> " + esc(p.title) + ". " + esc(p.summary);
    getJson(fhir + "/Patient/" + encodeURIComponent(p.patientId)).then(function (pt) {
      var name = (pt.name && pt.name[0]) || {};
      var mrn = (pt.identifier && pt.identifier[0] && pt.identifier[0].value) || "";
      $("banner").innerHTML = "<span class='name'>" + esc((name.given || []).join(" ") + " " + (name.family || "")) +
        "</span> <span>" + esc(pt.gender) + ", " + esc(ageOn(pt.birthDate, state.config.today)) + " y (born " +
        esc(pt.birthDate) + ")</span> <span class='muted'>MRN " + esc(mrn) + " &middot; id " + esc(pt.id) + "</span>";
    }).catch(function (e) { $("banner").textContent = e.message; });
    getJson(fhir + "/Observation?patient=" + encodeURIComponent(p.patientId) + "&_sort=-date&_count=40").then(function (b) {
      var rows = (b.entry || []).map(function (e) {
        var o = e.resource, value = o.valueQuantity ? qty(o.valueQuantity) : (o.component || []).map(function (c) {
          return qty(c.valueQuantity);
        }).join(" / ");
        return "<tr><td>" + esc((o.effectiveDateTime || "").slice(0, 10)) + "</td><td>" + esc(o.code.text ||
          (o.code.coding && o.code.coding[0].display)) + "</td><td class='num'>" + esc(value) + "</td><td class='muted'>LOINC " +
          esc(o.code.coding && o.code.coding[0].code) + "</td></tr>";
      });
      $("results").querySelector("tbody").innerHTML = rows.join("") || "<tr><td>No results</td></tr>";
    }).catch(function (e) { $("results").querySelector("tbody").innerHTML = "<tr><td>" + esc(e.message) + "</td></tr>"; });
  }

  function chooseDefaultDraft() {
    var hook = $("hook").value, exp = state.current.expected && state.current.expected[hook];
    if (exp && exp.draft && state.drafts[exp.draft]) { $("draft").value = exp.draft; }
    loadDraftJson();
  }

  function loadDraftJson() {
    var d = state.drafts[$("draft").value];
    if (!d) { return; }
    var res = JSON.parse(JSON.stringify(d.resource));
    res.subject = { reference: "Patient/" + state.current.patientId };
    $("draft-json").value = JSON.stringify(res, null, 2);
  }

  function onHookChange() {
    var order = $("hook").value !== "patient-view";
    $("draft-box").classList.toggle("hidden", !order);
    if (order) { chooseDefaultDraft(); }
  }

  function buildRequest(hook) {
    var p = state.current;
    var context = { userId: "Practitioner/demo-practitioner", patientId: p.patientId };
    if (hook !== "patient-view") {
      var draft;
      try { draft = JSON.parse($("draft-json").value); } catch (e) { throw new Error("The draft order is not valid JSON: " + e.message); }
      context.draftOrders = { resourceType: "Bundle", type: "collection", entry: [{ resource: draft }] };
      if (hook === "order-select") { context.selections = [draft.resourceType + "/" + draft.id]; }
    }
    // No prefetch: the service fetches from fhirServer (the demo FHIR server), over real HTTP.
    return { hook: hook, hookInstance: uuid(), fhirServer: state.config.fhirServer, context: context };
  }

  function serviceFor(hook) {
    return state.services.filter(function (s) { return s.hook === hook; })[0];
  }

  function run(event) {
    if (event) { event.preventDefault(); }
    var hook = $("hook").value, service = serviceFor(hook);
    if (!service) { setStatus("The service offers no " + hook + " service", "error"); return; }
    var req;
    try { req = buildRequest(hook); } catch (e) { setStatus(e.message, "error"); return; }
    var url = "/cds-services/" + encodeURIComponent(service.id);
    var started = performance.now();
    setStatus("Calling " + url + " (" + hook + ") ...", "running");
    $("cards").innerHTML = "";
    getJson(url, { method: "POST", headers: { "Content-Type": "application/json", "Accept": "application/json" },
                   body: JSON.stringify(req) })
      .then(function (resp) {
        $("exchange").textContent = "POST " + url + "\n" + JSON.stringify(req, null, 2) + "\n\n200\n" + JSON.stringify(resp, null, 2);
        renderCards(resp.cards || [], service);
        setStatus((resp.cards || []).length + " card(s) from " + service.id + " in " +
          Math.round(performance.now() - started) + " ms", "done");
      })
      .catch(function (e) {
        $("exchange").textContent = "POST " + url + "\n" + JSON.stringify(req, null, 2) + "\n\n" + e.message;
        $("cards").innerHTML = "<p class='error'>" + esc(e.message) + "</p>";
        setStatus("Request failed", "error");
      });
  }

  function renderCards(cards, service) {
    var box = $("cards");
    if (!cards.length) { box.innerHTML = "<p class='muted' data-testid='no-cards'>No cards: nothing to say for this patient and hook.</p>"; return; }
    cards.forEach(function (card) { box.appendChild(renderCard(card, service)); });
  }

  function renderCard(card, service) {
    var topic = card.source && card.source.topic ? card.source.topic.code : "";
    var el = document.createElement("article");
    el.className = "card card-" + (card.indicator || "info");
    el.setAttribute("data-topic", topic);
    el.setAttribute("data-uuid", card.uuid || "");
    el.setAttribute("data-indicator", card.indicator || "");
    var src = card.source || {};
    var html = "<header><span class='indicator'>" + esc(card.indicator) + "</span> <span class='topic'>" + esc(topic) +
      "</span></header><h3 class='summary'>" + esc(card.summary) + "</h3>";
    if (card.detail) { html += "<div class='detail'>" + window.DemoMarkdown.render(card.detail) + "</div>"; }
    html += "<p class='source'>Source: " + (src.url ? "<a href='" + esc(src.url) + "' target='_blank' rel='noopener noreferrer'>" +
      esc(src.label) + "</a>" : esc(src.label)) + "</p>";
    if (card.links && card.links.length) {
      html += "<ul class='links'>" + card.links.map(function (l) {
        return /^https?:/.test(l.url || "") ? "<li><a href='" + esc(l.url) + "' target='_blank' rel='noopener noreferrer'>" + esc(l.label) + "</a></li>" : "";
      }).join("") + "</ul>";
    }
    html += "<div class='actions'></div><p class='feedback-status' data-feedback-card='" + esc(card.uuid || "") + "'></p>";
    el.innerHTML = html;
    var actions = el.querySelector(".actions");
    (card.suggestions || []).forEach(function (s) {
      var b = document.createElement("button");
      b.type = "button";
      b.className = "suggestion" + (s.isRecommended ? " recommended" : "");
      b.setAttribute("data-suggestion-uuid", s.uuid || "");
      b.textContent = s.label;
      b.title = (s.actions || []).map(function (a) { return a.type + ": " + (a.description || ""); }).join("; ");
      b.addEventListener("click", function () {
        applySuggestion(s);
        sendFeedback(service, card, el, { outcome: "accepted", acceptedSuggestions: [{ id: s.uuid }] });
      });
      actions.appendChild(b);
    });
    var reasons = card.overrideReasons || [];
    var select = document.createElement("select");
    select.className = "override-reason";
    select.innerHTML = "<option value=''>Dismiss reason (optional)</option>" + reasons.map(function (r, i) {
      return "<option value='" + i + "'>" + esc(r.display || r.code) + "</option>";
    }).join("");
    var dismiss = document.createElement("button");
    dismiss.type = "button";
    dismiss.className = "dismiss";
    dismiss.textContent = "Dismiss";
    dismiss.addEventListener("click", function () {
      var item = { outcome: "overridden" };
      var r = reasons[Number(select.value)];
      if (select.value !== "" && r) { item.overrideReason = { reason: { system: r.system, code: r.code, display: r.display } }; }
      sendFeedback(service, card, el, item);
    });
    if (reasons.length) { actions.appendChild(select); }
    actions.appendChild(dismiss);
    return el;
  }

  // What an EHR does with an accepted suggestion, shown on the draft box: an `update` or `create` of a
  // MedicationRequest becomes the current draft (so "Run hook" re-checks it); nothing is written anywhere.
  function applySuggestion(suggestion) {
    var actions = suggestion.actions || [];
    var res = null;
    actions.forEach(function (a) {
      if ((a.type === "update" || a.type === "create") && a.resource && a.resource.resourceType === "MedicationRequest") { res = a.resource; }
    });
    if (res && $("hook").value !== "patient-view") {
      if (!res.id) { res.id = "draft-from-suggestion"; }
      $("draft-json").value = JSON.stringify(res, null, 2);
      $("draft-json").setAttribute("data-applied", suggestion.uuid || "yes");
    }
  }

  function sendFeedback(service, card, el, item) {
    var status = el.querySelector(".feedback-status");
    item.card = card.uuid;
    item.outcomeTimestamp = new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
    status.textContent = "Sending feedback ...";
    getJson("/cds-services/" + encodeURIComponent(service.id) + "/feedback", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ feedback: [item] })
    }).then(function () {
      return getJson("/demo/feedback?card=" + encodeURIComponent(card.uuid));
    }).then(function (rec) {
      var rows = rec.feedback || [];
      var last = rows[rows.length - 1] || {};
      status.textContent = rows.length ? "Feedback recorded: " + last.outcome + " at " + (last.outcomeTimestamp || "") +
        " (" + rows.length + " row(s) for this card)" : "Feedback sent, but no row was found";
      status.setAttribute("data-recorded", rows.length ? "true" : "false");
      status.setAttribute("data-outcome", last.outcome || "");
      el.classList.add(item.outcome === "accepted" ? "accepted" : "dismissed");
    }).catch(function (e) {
      status.textContent = "Feedback failed: " + e.message;
      status.setAttribute("data-recorded", "false");
    });
  }

  function onPatientChange() {
    state.current = state.patients.filter(function (p) { return p.slug === $("patient").value; })[0];
    $("cards").innerHTML = "<p class='muted'>Run a hook to see cards.</p>";
    showPatient();
    if ($("hook").value !== "patient-view") { chooseDefaultDraft(); }
  }

  function init() {
    Promise.all([getJson("/demo/api/config"), getJson("/cds-services")]).then(function (r) {
      state.config = r[0];
      state.services = r[1].services || [];
      state.patients = state.config.patients;
      state.config.drafts.forEach(function (d) { state.drafts[d.id] = d; });
      $("patient").innerHTML = state.patients.map(function (p) {
        return "<option value='" + esc(p.slug) + "'>" + esc(p.scenario + ". " + p.title) + "</option>";
      }).join("");
      $("draft").innerHTML = state.config.drafts.map(function (d) {
        return "<option value='" + esc(d.id) + "'>" + esc(d.text) + "</option>";
      }).join("");
      var params = new URLSearchParams(window.location.search);
      if (params.get("patient")) { $("patient").value = params.get("patient"); }
      if (params.get("hook")) { $("hook").value = params.get("hook"); }
      $("patient").addEventListener("change", onPatientChange);
      $("hook").addEventListener("change", onHookChange);
      $("draft").addEventListener("change", loadDraftJson);
      $("controls").addEventListener("submit", run);
      onPatientChange();
      onHookChange();
      setStatus("Ready: " + state.services.length + " service(s); today is " + state.config.today, "ready");
    }).catch(function (e) { setStatus("Could not start: " + e.message, "error"); });
  }

  document.addEventListener("DOMContentLoaded", init);
})();
