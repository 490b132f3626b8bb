// Browser checks for the HTML report, with no npm packages: Chrome DevTools Protocol over
// --remote-debugging-pipe (fd 3 = commands to the browser, fd 4 = its replies, each message
// JSON terminated by NUL), and a small PNG decoder on node's zlib.
//
//   node check.mjs page CHROMIUM FILE_URL [FLAGS...]  load with JavaScript disabled; fail on
//                                                     any request other than the file itself,
//                                                     any console error, exception or error
//                                                     log entry (CSP violations included)
//   node check.mjs png FILE                           fail unless the PNG has visible content
//
// Exit status 0 = checks passed, 1 = a check failed, 2 = could not run.

import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { inflateSync } from "node:zlib";

const [, , mode, ...args] = process.argv;

function fail(msg) {
  console.error(`FAIL: ${msg}`);
  process.exitCode = 1;
}

async function page(chromium, fileUrl, flags) {
  const browser = spawn(chromium, [...flags, "--remote-debugging-pipe", "about:blank"], {
    stdio: ["ignore", "ignore", "pipe", "pipe", "pipe"],
  });
  let browserLog = "";
  browser.stderr.on("data", (d) => (browserLog += d));
  const toBrowser = browser.stdio[3];
  const fromBrowser = browser.stdio[4];

  let nextId = 1;
  const pending = new Map();
  const events = [];
  const waiters = [];
  let buf = Buffer.alloc(0);
  fromBrowser.on("data", (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    let nul;
    while ((nul = buf.indexOf(0)) >= 0) {
      const msg = JSON.parse(buf.subarray(0, nul).toString("utf8"));
      buf = buf.subarray(nul + 1);
      if (msg.id && pending.has(msg.id)) {
        const { resolve, reject } = pending.get(msg.id);
        pending.delete(msg.id);
        msg.error ? reject(new Error(`${msg.error.message} (${msg.error.code})`)) : resolve(msg.result);
      } else if (msg.method) {
        events.push(msg);
        for (const w of [...waiters]) w(msg);
      }
    }
  });
  const send = (method, params = {}, sessionId) =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      pending.set(id, { resolve, reject });
      toBrowser.write(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }) + "\0");
    });
  const waitFor = (method, ms, from = 0) =>
    new Promise((resolve, reject) => {
      const found = events.slice(from).find((e) => e.method === method);
      if (found) return resolve(found);
      const t = setTimeout(() => reject(new Error(`timed out waiting for ${method}`)), ms);
      const w = (e) => {
        if (e.method === method) {
          clearTimeout(t);
          waiters.splice(waiters.indexOf(w), 1);
          resolve(e);
        }
      };
      waiters.push(w);
    });
  const exited = new Promise((r) => browser.on("exit", r));
  const watchdog = setTimeout(() => {
    fail("the browser check took more than 60 s");
    browser.kill("SIGKILL");
    process.exit(2);
  }, 60_000);

  try {
    // Two loads in fresh tabs: with JavaScript on, so any script error would surface, and
    // off, which is how the report must be readable.
    const load = async (javascript) => {
      const { targetId } = await send("Target.createTarget", { url: "about:blank" });
      const { sessionId } = await send("Target.attachToTarget", { targetId, flatten: true });
      const s = (m, p) => send(m, p, sessionId);
      await s("Network.enable");
      await s("Runtime.enable");
      await s("Log.enable");
      await s("Page.enable");
      await s("Emulation.setScriptExecutionDisabled", { value: !javascript });
      const from = events.length;
      const nav = await s("Page.navigate", { url: fileUrl });
      if (nav.errorText) throw new Error(`navigation failed: ${nav.errorText}`);
      await waitFor("Page.loadEventFired", 30_000, from);
      // Give late fetches (fonts, lazy images) a moment to show up.
      await new Promise((r) => setTimeout(r, 750));
      const value = async (expr) => (await s("Runtime.evaluate", { expression: expr, returnByValue: true })).result.value;
      return { s, value, targetId };
    };
    const withJs = await load(true);
    await send("Target.closeTarget", { targetId: withJs.targetId });
    const { value: eval_ } = await load(false);
    const facts = await eval_(`({
      title: document.title,
      textLength: document.body ? document.body.innerText.length : 0,
      scripts: document.scripts.length,
      checks: document.querySelectorAll("section.check").length,
      details: document.querySelectorAll("details").length,
      svg: document.querySelectorAll("svg").length,
      resources: performance.getEntriesByType("resource").map(e => e.name),
      external: [...document.querySelectorAll("[src],[href],link,iframe,object,embed,img")]
        .map(e => e.getAttribute("src") || e.getAttribute("href") || e.tagName)
        .filter(u => !u.startsWith("#")),
    })`);

    const base = fileUrl.split("#")[0];
    const requests = [...new Set(events
      .filter((e) => e.method === "Network.requestWillBeSent")
      .map((e) => e.params.request.url)
      .filter((u) => u.split("#")[0] !== base && !u.startsWith("data:")))];
    const consoleErrors = events
      .filter((e) => e.method === "Runtime.consoleAPICalled" && ["error", "assert"].includes(e.params.type))
      .map((e) => e.params.args.map((a) => a.value ?? a.description).join(" "));
    const exceptions = events
      .filter((e) => e.method === "Runtime.exceptionThrown")
      .map((e) => e.params.exceptionDetails.exception?.description ?? e.params.exceptionDetails.text);
    const logErrors = events
      .filter((e) => e.method === "Log.entryAdded" && e.params.entry.level === "error")
      .map((e) => `${e.params.entry.source}: ${e.params.entry.text}`);
    const logOther = events
      .filter((e) => e.method === "Log.entryAdded" && e.params.entry.level !== "error")
      .map((e) => `${e.params.entry.level} ${e.params.entry.source}: ${e.params.entry.text}`);

    console.log(`page (loaded with JavaScript on, then off): "${facts.title}", ${facts.textLength} characters of text with JavaScript off, ` +
      `${facts.checks} check sections, ${facts.details} <details>, ${facts.svg} <svg>, ${facts.scripts} scripts`);
    for (const l of logOther) console.log(`  note (not an error): ${l}`);
    if (requests.length) fail(`network requests besides the file itself: ${requests.join(", ")}`);
    if (facts.resources.length) fail(`resources loaded: ${facts.resources.join(", ")}`);
    if (facts.external.length) fail(`elements referring outside the document: ${facts.external.join(", ")}`);
    if (consoleErrors.length) fail(`console errors: ${consoleErrors.join(" | ")}`);
    if (exceptions.length) fail(`exceptions: ${exceptions.join(" | ")}`);
    if (logErrors.length) fail(`browser log errors: ${logErrors.join(" | ")}`);
    if (facts.scripts) fail(`the report contains ${facts.scripts} <script> elements`);
    if (facts.textLength < 200) fail(`almost no text (${facts.textLength} characters) without JavaScript`);
    if (!process.exitCode) console.log("page: no network requests, no console errors, readable without JavaScript");
    await send("Browser.close").catch(() => {});
  } catch (e) {
    console.error(`could not run the page check: ${e.message}\n${browserLog.slice(-2000)}`);
    process.exitCode = 2;
    browser.kill("SIGKILL");
  } finally {
    clearTimeout(watchdog);
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    if (browser.exitCode === null) browser.kill("SIGKILL");
  }
}

// Decode an 8-bit RGB/RGBA (non-interlaced) PNG far enough to count its colours.
function png(file) {
  const data = readFileSync(file);
  const sig = Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]);
  if (!data.subarray(0, 8).equals(sig)) return fail(`${file} is not a PNG`);
  let pos = 8, width = 0, height = 0, depth = 0, colorType = 0, interlace = 0;
  const idat = [];
  while (pos < data.length) {
    const len = data.readUInt32BE(pos);
    const type = data.toString("latin1", pos + 4, pos + 8);
    const body = data.subarray(pos + 8, pos + 8 + len);
    if (type === "IHDR") {
      width = body.readUInt32BE(0); height = body.readUInt32BE(4);
      depth = body[8]; colorType = body[9]; interlace = body[12];
    } else if (type === "IDAT") idat.push(body);
    else if (type === "IEND") break;
    pos += 12 + len;
  }
  if (depth !== 8 || ![2, 6].includes(colorType) || interlace !== 0) {
    console.error(`cannot decode this PNG (bit depth ${depth}, colour type ${colorType}, interlace ${interlace})`);
    process.exitCode = 2;
    return;
  }
  const bpp = colorType === 6 ? 4 : 3;
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * bpp;
  const cur = Buffer.alloc(stride), prev = Buffer.alloc(stride);
  const counts = new Map();
  for (let y = 0; y < height; y++) {
    const off = y * (stride + 1), filter = raw[off];
    for (let i = 0; i < stride; i++) {
      const x = raw[off + 1 + i], a = i >= bpp ? cur[i - bpp] : 0, b = prev[i], c = i >= bpp ? prev[i - bpp] : 0;
      let v;
      switch (filter) {
        case 0: v = x; break;
        case 1: v = x + a; break;
        case 2: v = x + b; break;
        case 3: v = x + ((a + b) >> 1); break;
        case 4: { const p = a + b - c, pa = Math.abs(p - a), pb = Math.abs(p - b), pc = Math.abs(p - c);
          v = x + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c); break; }
        default: console.error(`bad PNG filter ${filter}`); process.exitCode = 2; return;
      }
      cur[i] = v & 255;
    }
    for (let i = 0; i < stride; i += bpp) {
      const rgb = (cur[i] << 16) | (cur[i + 1] << 8) | cur[i + 2];
      counts.set(rgb, (counts.get(rgb) || 0) + 1);
    }
    cur.copy(prev);
  }
  const total = width * height;
  const dominant = Math.max(...counts.values());
  const other = (total - dominant) / total;
  console.log(`screenshot: ${width}x${height}, ${counts.size} colours, ${(other * 100).toFixed(1)}% of pixels differ from the background`);
  if (counts.size < 16 || other < 0.01) fail("the screenshot is blank (one colour or nearly so)");
}

if (mode === "page" && args.length >= 2) await page(args[0], args[1], args.slice(2));
else if (mode === "png" && args.length === 1) png(args[0]);
else {
  console.error("usage: node check.mjs page CHROMIUM FILE_URL [FLAGS...] | node check.mjs png FILE");
  process.exitCode = 2;
}
