// Validates a workflow script without running it: runs after acorn.js in a throwaway context.
// __bcParse(source, wrapped) returns JSON text: {meta, exportStart} or {error, line}.
(function () {
  "use strict";
  const FORBIDDEN_KEYS = new Set(["__proto__", "constructor", "prototype"]);

  class Refusal extends Error {
    constructor(message, node) {
      super(message);
      this.line = node && node.loc ? node.loc.start.line : 1;
    }
  }

  function keyName(prop) {
    if (prop.computed) throw new Refusal("meta: computed keys are not allowed", prop);
    if (prop.key.type === "Identifier") return prop.key.name;
    if (prop.key.type === "Literal" && typeof prop.key.value === "string") return prop.key.value;
    throw new Refusal("meta: keys must be identifiers or strings", prop);
  }

  function literal(node) {
    switch (node.type) {
      case "Literal":
        if (node.regex || node.bigint !== undefined) throw new Refusal("meta: only JSON-like literals", node);
        return node.value;
      case "TemplateLiteral":
        if (node.expressions.length) throw new Refusal("meta: template literals must not contain ${...}", node);
        return node.quasis[0].value.cooked;
      case "UnaryExpression":
        if (node.operator === "-" && node.argument.type === "Literal" && typeof node.argument.value === "number")
          return -node.argument.value;
        throw new Refusal("meta: only unary minus on a number is allowed", node);
      case "ArrayExpression":
        return node.elements.map((el) => {
          if (el === null) throw new Refusal("meta: arrays must not have holes", node);
          if (el.type === "SpreadElement") throw new Refusal("meta: spreads are not allowed", el);
          return literal(el);
        });
      case "ObjectExpression": {
        const out = {};
        for (const prop of node.properties) {
          if (prop.type !== "Property") throw new Refusal("meta: spreads are not allowed", prop);
          if (prop.kind !== "init" || prop.method || prop.shorthand)
            throw new Refusal("meta: methods, getters, setters and shorthand properties are not allowed", prop);
          const key = keyName(prop);
          if (FORBIDDEN_KEYS.has(key)) throw new Refusal(`meta: key '${key}' is not allowed`, prop);
          out[key] = literal(prop.value);
        }
        return out;
      }
      default:
        throw new Refusal("meta must be a pure literal (no variables, calls or expressions)", node);
    }
  }

  function metaOf(program) {
    const first = program.body[0];
    const decl = first && first.type === "ExportNamedDeclaration" ? first.declaration : null;
    const ok =
      decl &&
      decl.type === "VariableDeclaration" &&
      decl.kind === "const" &&
      decl.declarations.length === 1 &&
      decl.declarations[0].id.type === "Identifier" &&
      decl.declarations[0].id.name === "meta" &&
      decl.declarations[0].init;
    if (!ok) throw new Refusal("the script must start with `export const meta = {...}`", first);
    const init = decl.declarations[0].init;
    if (init.type !== "ObjectExpression") throw new Refusal("meta must be an object literal", init);
    return { meta: literal(init), exportStart: first.start };
  }

  function isName(node, name) {
    return node.type === "Identifier" && node.name === name;
  }

  function isMember(node, object, property) {
    if (node.type !== "MemberExpression" || !isName(node.object, object)) return false;
    const key = node.property;
    return node.computed ? key.type === "Literal" && key.value === property : isName(key, property);
  }

  // The same wording as the sandbox's runtime guards (prelude.js): refused before the run starts.
  function nondeterministic(what, advice = "pass a timestamp in through args instead") {
    return `${what} is not available in workflow scripts (breaks resume); ${advice}`;
  }

  function forbidden(node, first) {
    switch (node.type) {
      case "ImportDeclaration":
        return "static `import` is not supported in workflow scripts";
      case "ImportExpression":
        return "dynamic `import()` is not allowed in workflow scripts";
      case "MetaProperty":
        return node.meta.name === "import" ? "`import.meta` is not available in workflow scripts" : null;
      case "ExportNamedDeclaration":
      case "ExportDefaultDeclaration":
      case "ExportAllDeclaration":
        return node === first ? null : "only `export const meta` may be exported";
      case "CallExpression":
        if (isName(node.callee, "require")) return "`require()` is not available in workflow scripts";
        if (isName(node.callee, "Date")) return nondeterministic("Date()");
        if (isMember(node.callee, "Date", "now")) return nondeterministic("Date.now()");
        if (isMember(node.callee, "Math", "random"))
          return nondeterministic("Math.random()", "vary prompts by index or pass a seed in through args instead");
        return null;
      case "NewExpression":
        return isName(node.callee, "Date") && node.arguments.length === 0 ? nondeterministic("new Date()") : null;
      default:
        return null;
    }
  }

  function walk(node, first) {
    const stack = [node];
    while (stack.length) {
      const n = stack.pop();
      const why = forbidden(n, first);
      if (why) throw new Refusal(why, n);
      for (const key in n) {
        const v = n[key];
        if (key === "loc" || !v || typeof v !== "object") continue;
        if (Array.isArray(v)) {
          for (let i = v.length - 1; i >= 0; i--) if (v[i] && typeof v[i].type === "string") stack.push(v[i]);
        } else if (typeof v.type === "string") stack.push(v);
      }
    }
  }

  function checkWrapped(prefix, body, suffix) {
    // The sandbox runs the body as a classic script inside a function: it must read the same there
    // (this refuses HTML-like comments and anything else that would close the wrapper early).
    const wrapped = prefix + body + suffix;
    const blockStart = prefix.lastIndexOf("{");
    const blockEnd = prefix.length + body.length + 2;
    let program;
    try {
      program = acorn.parse(wrapped, { ecmaVersion: "latest", sourceType: "script" });
    } catch (e) {
      program = null;
    }
    const only = program && program.body.length === 1 ? program.body[0] : null;
    const call = only && only.type === "ExpressionStatement" ? only.expression : null;
    const inner = call && call.type === "CallExpression" && call.arguments.length === 1 ? call.arguments[0] : null;
    const fn = inner && inner.type === "CallExpression" ? inner.callee : null;
    const ok = fn && fn.type === "FunctionExpression" && fn.body.start === blockStart && fn.body.end === blockEnd;
    if (!ok) throw new Refusal("the script reads differently outside a module (HTML-like comment?)", null);
  }

  globalThis.__bcParse = function (source, prefix, suffix) {
    try {
      const program = acorn.parse(source, {
        ecmaVersion: "latest",
        sourceType: "module",
        allowAwaitOutsideFunction: true,
        allowReturnOutsideFunction: true,
        locations: true,
      });
      const result = metaOf(program);
      walk(program, program.body[0]);
      const body = source.slice(0, result.exportStart) + "      " + source.slice(result.exportStart + 6);
      checkWrapped(prefix, body, suffix);
      return JSON.stringify(result);
    } catch (e) {
      if (e instanceof Refusal) return JSON.stringify({ error: e.message, line: e.line });
      if (e instanceof SyntaxError && e.loc) {
        const message = e.message.replace(/ \(\d+:\d+\)$/, "");
        return JSON.stringify({ error: "syntax error: " + message, line: e.loc.line });
      }
      throw e;
    }
  };
})();
