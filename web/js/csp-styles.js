// csp-styles.js - lets a library that styles from script the way xterm.js
// does work under our CSP, whose style-src 'self' blocks every <style>
// element and every style attribute, without any CSP violation:
//
// 1. <style> elements (xterm's DOM renderer and scrollbar write their CSS
//    into them): document.createElement('style') returns an inert, hidden
//    <gh-style> element instead. Whatever the library writes into its
//    textContent (or innerText) goes into a constructed CSSStyleSheet
//    adopted by the document; el.remove() takes the sheet away again.
// 2. style attributes (xterm colours 24-bit colour cells, and selected
//    text, with el.setAttribute('style', ...)): setAttribute('style', v)
//    becomes el.style.cssText = v.
//
// Both are CSSOM, which style-src does not govern (like el.style.color =
// ...), and both are reached only by script, which script-src 'self'
// already limits to our own files. <style> elements and style attributes
// in markup, or injected as HTML, stay blocked: the HTML parser calls
// neither function. Load this before the library. Standard APIs only
// (constructable stylesheets: Chromium 73+, Firefox 101+).
'use strict';

(() => {
  if (typeof CSSStyleSheet !== 'function' || !('adoptedStyleSheets' in Document.prototype)) return;
  const realCreate = Document.prototype.createElement;

  function styleShim(doc) {
    const el = realCreate.call(doc, 'gh-style');
    el.hidden = true;
    const sheet = new CSSStyleSheet();
    let text = '';
    let adopted = false;
    const adopt = (on) => {
      if (on === adopted) return;
      adopted = on;
      const others = [...doc.adoptedStyleSheets].filter((s) => s !== sheet);
      doc.adoptedStyleSheets = on ? [...others, sheet] : others;
    };
    const set = (value) => {
      text = value == null ? '' : String(value);
      sheet.replaceSync(text);
      adopt(true);
    };
    for (const prop of ['textContent', 'innerText']) {
      Object.defineProperty(el, prop, { get: () => text, set, configurable: true });
    }
    Object.defineProperty(el, 'sheet', { get: () => sheet, configurable: true });
    el.type = 'text/css';
    el.media = 'screen';
    const realRemove = el.remove;
    el.remove = function remove() {
      adopt(false);
      return realRemove.call(this);
    };
    return el;
  }

  document.createElement = function createElement(name, options) {
    if (typeof name === 'string' && name.toLowerCase() === 'style') return styleShim(this);
    return realCreate.call(this, name, options);
  };

  const realSetAttribute = Element.prototype.setAttribute;
  Element.prototype.setAttribute = function setAttribute(name, value) {
    if (typeof name === 'string' && name.toLowerCase() === 'style' && this.style) {
      this.style.cssText = String(value);
      return undefined;
    }
    return realSetAttribute.call(this, name, value);
  };
})();
