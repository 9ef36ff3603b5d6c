// The workflow sandbox's prelude: the script API (agent, parallel, pipeline, ...) over a JSON-only bridge.
// Host requests wait in an outbox as [id, op, argsJson] (id 0: fire-and-forget) until Python drains it
// with __bcPoll(); Python answers a batch with __bcSettle(json). Nothing else crosses the boundary.
(function () {
  "use strict";
  const G = globalThis;
  const { stringify, parse } = JSON;
  const { freeze, defineProperty, getPrototypeOf, getOwnPropertyNames, getOwnPropertySymbols } = Object;
  const { getOwnPropertyDescriptor, isFrozen } = Object;
  const { isArray } = Array;
  const PromiseCtor = Promise;
  const RealDate = Date;
  const MAX_ITEMS = 4096;
  const MAX_PENDING = 10000;
  const MAX_LOG_CALL = 10000;
  const MAX_LOG_RUN = 1000000;

  const pending = new Map();
  let outbox = [];
  let nextId = 1;
  let spent = 0;
  let total = null;
  let logChars = 0;
  let logCapped = false;
  let result = null; // {ok, value} or {ok: false, message, stack}

  // ---- bridge ------------------------------------------------------------------------------------
  function host(op, args) {
    return request(op, args).promise;
  }

  function request(op, args) {
    if (pending.size >= MAX_PENDING)
      throw new Error(`more than ${MAX_PENDING} host calls in flight; await some before starting more`);
    const text = stringify(args);
    const id = nextId++;
    const promise = new PromiseCtor((resolve, reject) => {
      pending.set(id, { resolve, reject });
      outbox.push([id, op, text]);
    });
    return { id, promise };
  }

  function notify(op, args) {
    outbox.push([0, op, stringify(args)]);
  }

  function describe(err) {
    try {
      if (err instanceof Error) return { message: `${err.name}: ${err.message}`, stack: String(err.stack) };
      return { message: `Uncaught ${typeof err === "string" ? err : stringify(err) ?? String(err)}`, stack: "" };
    } catch (e) {
      return { message: "Uncaught exception (it cannot be displayed)", stack: "" };
    }
  }

  function messageOf(err) {
    try {
      return err instanceof Error ? String(err.message) : String(err);
    } catch (e) {
      return "unprintable error";
    }
  }

  function settle(json) {
    const batch = parse(json);
    spent = batch.spent;
    for (const [id, ok, value] of batch.results) {
      const entry = pending.get(id);
      if (!entry) continue;
      pending.delete(id);
      if (ok) entry.resolve(value);
      else entry.reject(new Error(value));
    }
  }

  function poll() {
    const out = outbox;
    outbox = [];
    let done = null;
    if (result && result.ok) {
      try {
        const text = stringify(result.value);
        done = { ok: true, value: text === undefined ? null : text };
      } catch (e) {
        done = { ok: false, message: `the script's return value cannot be sent as JSON: ${messageOf(e)}`, stack: "" };
      }
    } else if (result) done = result;
    return stringify({ outbox: out, done, pending: pending.size });
  }

  function begin(promise) {
    promise.then(
      (value) => {
        result = { ok: true, value };
      },
      (err) => {
        result = { ok: false, ...describe(err) };
      },
    );
  }

  function init(json) {
    const config = parse(json);
    total = config.total;
    spent = config.spent;
    defineProperty(G, "args", { value: "args" in config ? parse(config.args) : undefined, enumerable: false });
  }

  // ---- script API --------------------------------------------------------------------------------
  function isPlainObject(value) {
    if (value === null || typeof value !== "object" || isArray(value)) return false;
    const proto = getPrototypeOf(value);
    return proto === Object.prototype || proto === null;
  }

  function jsonOnly(where) {
    return function (key, value) {
      const t = typeof value;
      if (t === "function" || t === "symbol")
        throw new TypeError(`${where}: ${key ? `'${key}' ` : ""}is a ${t}; only JSON values can be passed`);
      return value;
    };
  }

  function agent(prompt, opts) {
    if (typeof prompt !== "string") throw new TypeError(`agent(): prompt must be a string, got ${typeof prompt}`);
    if (opts !== undefined && !isPlainObject(opts))
      throw new TypeError("agent(): opts must be a plain object or undefined");
    const args = opts === undefined ? { prompt } : { prompt, opts: parse(stringify(opts, jsonOnly("agent() opts"))) };
    return host("agent", args);
  }

  function workflow(nameOrRef, args) {
    if (typeof nameOrRef !== "string" && !isPlainObject(nameOrRef))
      throw new TypeError("workflow(): the first argument must be a name or {scriptPath}");
    const request = { ref: parse(stringify(nameOrRef, jsonOnly("workflow()"))) };
    if (args !== undefined) request.args = parse(stringify(args, jsonOnly("workflow() args")));
    return host("workflow", request);
  }

  function items(name, list) {
    if (!isArray(list)) throw new TypeError(`${name}() takes an array`);
    const copy = Array.prototype.slice.call(list);
    if (copy.length > MAX_ITEMS)
      throw new Error(`${name}() received ${copy.length} items; the limit is ${MAX_ITEMS} per call`);
    return copy;
  }

  function fail(where, err) {
    notify("failure", { where, error: messageOf(err) });
    return null;
  }

  function parallel(thunks) {
    const list = items("parallel", thunks);
    for (let i = 0; i < list.length; i++)
      if (typeof list[i] !== "function")
        throw new TypeError(`parallel(): item ${i} is not a function (got ${typeof list[i]}); pass () => agent(...)`);
    const slots = [];
    for (let i = 0; i < list.length; i++) {
      const slot = new PromiseCtor((resolve) => resolve(list[i]()));
      slots.push(slot.then(undefined, (err) => fail(`parallel[${i}]`, err)));
    }
    return PromiseCtor.all(slots);
  }

  async function chain(item, index, stages) {
    let prev = item;
    for (let s = 0; s < stages.length; s++) {
      try {
        prev = await stages[s](prev, item, index);
      } catch (err) {
        return fail(`pipeline[${index}]`, err);
      }
    }
    return prev;
  }

  function pipeline(list, ...stages) {
    const copy = items("pipeline", list);
    for (let s = 0; s < stages.length; s++)
      if (typeof stages[s] !== "function") throw new TypeError(`pipeline(): stage ${s} is not a function`);
    const chains = [];
    for (let i = 0; i < copy.length; i++) chains.push(chain(copy[i], i, stages));
    return PromiseCtor.all(chains);
  }

  function text(value) {
    if (typeof value === "string") return value;
    try {
      const json = stringify(value);
      return json === undefined ? String(value) : json;
    } catch (e) {
      return String(value);
    }
  }

  function log(...parts) {
    if (logCapped) return;
    let line = parts.map(text).join(" ");
    if (line.length > MAX_LOG_CALL)
      line = `${line.slice(0, MAX_LOG_CALL)}… [${line.length - MAX_LOG_CALL} more characters dropped]`;
    logChars += line.length;
    if (logChars > MAX_LOG_RUN) {
      logCapped = true;
      line = `log output limit reached (${MAX_LOG_RUN} characters per run); further log() calls are dropped`;
    }
    notify("log", { message: line });
  }

  function phase(title) {
    notify("phase", { title: String(title).slice(0, 500) });
  }

  // ---- timers (Node's semantics: the host sleeps; cleared timers are cancelled there too) -----------
  const MAX_DELAY = 2147483647;
  const timers = new Map(); // timer id -> host request id
  let nextTimer = 1;

  function setTimeout(callback, delay, ...rest) {
    if (typeof callback !== "function")
      throw new TypeError("setTimeout(): the callback must be a function (strings are not evaluated)");
    let ms = Number(delay);
    if (!(ms >= 1 && ms <= MAX_DELAY)) ms = 1;
    const timer = nextTimer++;
    const { id, promise } = request("sleep", { ms: Math.trunc(ms) });
    timers.set(timer, id);
    promise.then(
      () => {
        if (!timers.delete(timer)) return;
        try {
          callback(...rest);
        } catch (err) {
          if (!result) result = { ok: false, ...describe(err) };
        }
      },
      () => timers.delete(timer),
    );
    return timer;
  }

  function clearTimeout(timer) {
    const id = timers.get(timer);
    if (id === undefined) return;
    timers.delete(timer);
    notify("clearTimeout", { request: id });
  }

  const budget = freeze({
    get total() {
      return total;
    },
    spent: () => spent,
    remaining: () => (total === null ? Infinity : Math.max(0, total - spent)),
  });

  // ---- determinism ----------------------------------------------------------------------------------
  function nondeterministic(what, advice = "pass a timestamp in through args instead") {
    return new Error(`${what} is not available in workflow scripts (breaks resume); ${advice}`);
  }

  function SafeDate(...a) {
    if (new.target === undefined) throw nondeterministic("Date()");
    if (a.length === 0) throw nondeterministic("new Date()");
    return Reflect.construct(RealDate, a, new.target);
  }
  defineProperty(SafeDate, "prototype", { value: RealDate.prototype });
  defineProperty(RealDate.prototype, "constructor", { value: SafeDate });
  SafeDate.UTC = RealDate.UTC;
  SafeDate.parse = RealDate.parse;
  SafeDate.now = function now() {
    throw nondeterministic("Date.now()");
  };
  Math.random = function random() {
    throw nondeterministic("Math.random()", "vary prompts by index or pass a seed in through args instead");
  };
  const dtf = Intl.DateTimeFormat.prototype;
  const realFormatToParts = dtf.formatToParts;
  const realFormat = getOwnPropertyDescriptor(dtf, "format").get;
  defineProperty(dtf, "formatToParts", {
    value: function formatToParts(date) {
      if (date === undefined) throw nondeterministic("Intl.DateTimeFormat().formatToParts()");
      return realFormatToParts.call(this, date);
    },
  });
  defineProperty(dtf, "format", {
    get() {
      const bound = realFormat.call(this);
      return (date) => {
        if (date === undefined) throw nondeterministic("Intl.DateTimeFormat().format()");
        return bound(date);
      };
    },
  });

  // ---- global surface ----------------------------------------------------------------------------
  const REMOVED = [
    "ArrayBuffer", "SharedArrayBuffer", "DataView", "Atomics", "WebAssembly", "Int8Array", "Uint8Array",
    "Uint8ClampedArray", "Int16Array", "Uint16Array", "Int32Array", "Uint32Array", "Float16Array",
    "Float32Array", "Float64Array", "BigInt64Array", "BigUint64Array", "FinalizationRegistry", "WeakRef",
    "Temporal", "ShadowRealm", "eval", "__timer_manager", "console",
  ];
  for (const name of REMOVED) {
    try {
      delete G[name];
    } catch (e) {
      G[name] = undefined; // `var` globals (mini-racer's timers) cannot be deleted
    }
  }

  // Code generation from strings is also refused by a V8 flag; these stubs hold if the flag is missing.
  function noCodegen() {
    throw new EvalError("code generation from strings is disabled in workflow scripts");
  }
  const fnProtos = [
    Function.prototype,
    getPrototypeOf(async function () {}),
    getPrototypeOf(function* () {}),
    getPrototypeOf(async function* () {}),
  ];
  for (const proto of fnProtos) defineProperty(proto, "constructor", { value: noCodegen });
  defineProperty(noCodegen, "prototype", { value: Function.prototype });

  const consoleObj = freeze({ log, info: log, warn: log, error: log, debug: log });
  const api = { agent, parallel, pipeline, workflow, log, phase, budget, console: consoleObj };
  api.Date = SafeDate;
  api.Function = noCodegen;
  api.__bcBegin = begin;
  api.__bcInit = init;
  api.__bcPoll = poll;
  api.__bcSettle = settle;
  for (const name of getOwnPropertyNames(api))
    defineProperty(G, name, { value: api[name], writable: false, enumerable: false, configurable: false });
  // mini-racer declares these with `var` (non-configurable): replace the value, keep the attributes.
  for (const [name, value] of [["setTimeout", setTimeout], ["clearTimeout", clearTimeout]]) {
    const own = getOwnPropertyDescriptor(G, name);
    if (own && !own.configurable) defineProperty(G, name, { value, writable: false });
    else defineProperty(G, name, { value, writable: false, enumerable: false, configurable: false });
  }
  defineProperty(G, "then", { value: undefined, writable: false, configurable: false });

  // ---- freeze the intrinsics ---------------------------------------------------------------------
  // Frozen prototypes make `obj.toString = f` throw (the "override mistake"); these keys become
  // accessors that define the property on the instance instead, as SES does.
  function overridable(proto, key) {
    const desc = getOwnPropertyDescriptor(proto, key);
    if (!desc || !("value" in desc)) return;
    const value = desc.value;
    defineProperty(proto, key, {
      get: function () {
        return value;
      },
      set: function (v) {
        if (this === proto) throw new TypeError(`Cannot assign to read only property '${key}'`);
        defineProperty(this, key, { value: v, writable: true, enumerable: true, configurable: true });
      },
      enumerable: desc.enumerable,
      configurable: false,
    });
  }
  for (const key of ["constructor", "toString", "valueOf", "toLocaleString", "hasOwnProperty"])
    overridable(Object.prototype, key);
  for (const E of [Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError, AggregateError])
    for (const key of ["name", "message", "constructor", "toString"]) overridable(E.prototype, key);
  for (const key of ["toString", "name"]) overridable(Function.prototype, key);
  for (const key of ["toString", "constructor", "push"]) overridable(Array.prototype, key);

  function harden(roots) {
    const seen = new Set();
    const queue = roots.slice();
    while (queue.length) {
      const obj = queue.pop();
      if ((typeof obj !== "object" && typeof obj !== "function") || obj === null || seen.has(obj)) continue;
      seen.add(obj);
      if (obj !== G && !isFrozen(obj)) freeze(obj);
      queue.push(getPrototypeOf(obj));
      for (const key of [...getOwnPropertyNames(obj), ...getOwnPropertySymbols(obj)]) {
        const desc = getOwnPropertyDescriptor(obj, key);
        queue.push(desc.value, desc.get, desc.set);
      }
    }
  }
  harden([
    G,
    ...fnProtos,
    getPrototypeOf([][Symbol.iterator]()),
    getPrototypeOf(new Map().entries()),
    getPrototypeOf(new Set().values()),
    getPrototypeOf(""[Symbol.iterator]()),
    getPrototypeOf("a".matchAll(/a/g)),
    getPrototypeOf((function* () {})()),
    getPrototypeOf((async function* () {})()),
    getPrototypeOf(Iterator.from({ next() {} })),
    getPrototypeOf([].values().map((x) => x)),
  ]);
})();
//# sourceURL=prelude.js
