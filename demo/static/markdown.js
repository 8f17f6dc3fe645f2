/* A tiny GitHub-flavoured-markdown subset for card details: headings, paragraphs, lists, tables,
 * bold, italics, inline code and links. Everything is HTML-escaped FIRST, so a card can never inject
 * markup; links are kept only for http(s) URLs. No dependencies, no build step. */
(function (global) {
  "use strict";

  function escapeHtml(text) {
    return String(text)
      .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
  }

  // GFM backslash escapes (after HTML escaping: "\>" arrives as "\&gt;").
  var BACKSLASH = /\\(&gt;|&lt;|&amp;|&quot;|&#39;|[!#$%()*+,\-.\/:;=?@\[\]^_`{|}~])/g;

  function inline(escaped) {
    var codes = [];
    var out = escaped.replace(/`([^`]+)`/g, function (_, code) {
      codes.push("<code>" + code + "</code>");
      return "\u0000" + (codes.length - 1) + "\u0000";
    });
    out = out.replace(BACKSLASH, function (_, ch) {
      codes.push(ch);
      return "\u0000" + (codes.length - 1) + "\u0000";
    });
    out = out.replace(/\[([^\]]+)\]\((https?:\/\/[^\s)]+)\)/g, function (_, label, url) {
      return '<a href="' + url + '" target="_blank" rel="noopener noreferrer">' + label + "</a>";
    });
    out = out.replace(/\*\*([^*]+)\*\*/g, "<strong>$1</strong>")
      .replace(/__([^_]+)__/g, "<strong>$1</strong>")
      .replace(/(^|[^*\w])\*([^*\s][^*]*)\*(?!\w)/g, "$1<em>$2</em>")
      .replace(/(^|[^_\w])_([^_\s][^_]*)_(?!\w)/g, "$1<em>$2</em>");
    return out.replace(/\u0000(\d+)\u0000/g, function (_, i) { return codes[Number(i)]; });
  }

  function splitRow(line) {
    var cells = line.trim().replace(/^\|/, "").replace(/\|$/, "").replace(/\\\|/g, "\u0001").split("|");
    return cells.map(function (c) { return c.trim().replace(/\u0001/g, "\\|"); });
  }

  function render(markdown) {
    var lines = escapeHtml(markdown || "").replace(/\r\n?/g, "\n").split("\n");
    var html = [];
    var i = 0;
    while (i < lines.length) {
      var line = lines[i];
      if (!line.trim()) { i++; continue; }
      var heading = /^(#{1,6})\s+(.*)$/.exec(line);
      if (heading) {
        var level = Math.min(heading[1].length + 3, 6); // h4..h6 inside a card
        html.push("<h" + level + ">" + inline(heading[2]) + "</h" + level + ">");
        i++; continue;
      }
      if (/^\s*\|.*\|\s*$/.test(line) && i + 1 < lines.length && /^\s*\|?\s*:?-{2,}/.test(lines[i + 1])) {
        var head = splitRow(line);
        var rows = [];
        i += 2;
        while (i < lines.length && /^\s*\|.*\|\s*$/.test(lines[i])) { rows.push(splitRow(lines[i])); i++; }
        html.push("<table><thead><tr>" + head.map(function (c) { return "<th>" + inline(c) + "</th>"; }).join("") +
          "</tr></thead><tbody>" + rows.map(function (r) {
            return "<tr>" + r.map(function (c) { return "<td>" + inline(c) + "</td>"; }).join("") + "</tr>";
          }).join("") + "</tbody></table>");
        continue;
      }
      var listRe = /^\s*([-*+]|\d+[.)])\s+(.*)$/;
      if (listRe.test(line)) {
        var ordered = /^\s*\d/.test(line);
        var items = [];
        while (i < lines.length && listRe.test(lines[i])) {
          items.push("<li>" + inline(listRe.exec(lines[i])[2]) + "</li>");
          i++;
          while (i < lines.length && /^\s{2,}\S/.test(lines[i]) && !listRe.test(lines[i])) {
            items[items.length - 1] = items[items.length - 1].replace(/<\/li>$/, " " + inline(lines[i].trim()) + "</li>");
            i++;
          }
        }
        var tag = ordered ? "ol" : "ul";
        html.push("<" + tag + ">" + items.join("") + "</" + tag + ">");
        continue;
      }
      var para = [inline(line.replace(/\s{2,}$/, ""))]; // always consume the first line
      i++;
      while (i < lines.length && lines[i].trim() && !/^(#{1,6})\s/.test(lines[i]) && !listRe.test(lines[i]) &&
             !/^\s*\|.*\|\s*$/.test(lines[i])) {
        para.push(inline(lines[i].replace(/\s{2,}$/, "")));
        i++;
      }
      html.push("<p>" + para.join("<br>") + "</p>");
    }
    return html.join("\n");
  }

  global.DemoMarkdown = { render: render, escapeHtml: escapeHtml };
})(window);
