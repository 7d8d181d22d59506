/* inlet.js: served by inlet at /inlet.js for the pages that hold its forms.
 * - A <form action="https://INLET/f/KEY"> (same origin as this script) is
 *   sent with fetch: success and field errors show inline, the page stays.
 *   Without JavaScript, or when fetch fails before an answer, the form posts
 *   the plain way, so nothing is lost. data-inlet="off" opts a form out.
 * - One view ping per page view and form key (POST /v1/KEY/ping): the
 *   analytics' views and conversion. No cookie, nothing stored here; the
 *   server keeps only a daily-salted hash.
 * Options on the form: data-inlet-success="Thanks!" (the message),
 * data-inlet-reset="false" (keep the values). No dependencies. */
(function () {
	'use strict';
	var me = document.currentScript;
	var base = me ? new URL(me.src, location.href).origin : location.origin;
	var seen = {};

	function keyOf(form) {
		var a = form.getAttribute('action');
		if (!a || form.getAttribute('data-inlet') === 'off') return null;
		var u;
		try { u = new URL(a, location.href); } catch (e) { return null; }
		var m = /^\/f\/([A-Za-z0-9_-]+)\/?$/.exec(u.pathname);
		return m && u.origin === base ? m[1] : null;
	}

	function ping(key) {
		if (seen[key]) return;
		seen[key] = 1;
		var url = base + '/v1/' + key + '/ping';
		if (!(navigator.sendBeacon && navigator.sendBeacon(url))) {
			fetch(url, { method: 'POST', mode: 'no-cors', keepalive: true }).catch(function () {});
		}
	}

	function clear(form) {
		var old = form.querySelectorAll('[data-inlet-error],[data-inlet-status]');
		for (var i = 0; i < old.length; i++) old[i].remove();
		var bad = form.querySelectorAll('[aria-invalid]');
		for (i = 0; i < bad.length; i++) bad[i].removeAttribute('aria-invalid');
	}

	function note(form, text, kind, after) {
		var el = document.createElement(kind === 'status' ? 'div' : 'span');
		el.setAttribute(kind === 'status' ? 'data-inlet-status' : 'data-inlet-error', '');
		el.setAttribute('role', kind === 'status' ? 'status' : 'alert');
		el.className = 'inlet-' + (kind === 'status' ? 'status' : 'error');
		el.textContent = text;
		if (after) after.insertAdjacentElement('afterend', el);
		else form.appendChild(el);
		return el;
	}

	function showErrors(form, body, status) {
		var errs = (body && body.errors) || [];
		var general = [];
		for (var i = 0; i < errs.length; i++) {
			var field = errs[i].field && form.elements.namedItem(errs[i].field);
			if (field && field.length && !field.tagName) field = field[0];
			if (field && field.tagName) {
				field.setAttribute('aria-invalid', 'true');
				var el = note(form, errs[i].message, 'error', field);
				if (!el.id) el.id = 'inlet-err-' + errs[i].field;
				field.setAttribute('aria-describedby', el.id);
				if (i === 0) field.focus();
			} else {
				general.push(errs[i].message);
			}
		}
		if (!errs.length) general.push((body && typeof body.error === 'string' && body.error) ||
			'Your submission was not sent (' + status + '). Please try again.');
		if (general.length) note(form, general.join(' '), 'status').setAttribute('data-inlet-failed', '');
	}

	function submit(form, ev) {
		ev.preventDefault();
		if (form.getAttribute('data-inlet-busy')) return;
		var button = ev.submitter || form.querySelector('[type=submit]');
		var data = new FormData(form, ev.submitter);
		form.setAttribute('data-inlet-busy', '1');
		form.setAttribute('aria-busy', 'true');
		if (button) button.disabled = true;
		clear(form);
		function done() {
			form.removeAttribute('data-inlet-busy');
			form.removeAttribute('aria-busy');
			if (button) button.disabled = false;
		}
		fetch(new URL(form.getAttribute('action'), location.href).href, { method: 'POST', body: data, headers: { Accept: 'application/json' } })
			.then(function (res) {
				return res.json().catch(function () { return null; }).then(function (body) {
					done();
					if (!res.ok) return showErrors(form, body, res.status);
					var ok = form.getAttribute('data-inlet-success') ||
						'Thank you! Your submission has been sent.';
					if (form.getAttribute('data-inlet-reset') !== 'false') form.reset();
					note(form, ok, 'status').setAttribute('data-inlet-sent', '');
					form.dispatchEvent(new CustomEvent('inlet:sent', { detail: body }));
				});
			}, function () {
				/* No answer at all: let the browser post it the plain way. */
				done();
				form.removeEventListener('submit', form.__inlet);
				HTMLFormElement.prototype.submit.call(form);
			});
	}

	function wire(form) {
		var key = keyOf(form);
		if (!key || form.__inlet) return;
		form.__inlet = function (ev) { submit(form, ev); };
		form.addEventListener('submit', form.__inlet);
		ping(key);
	}

	function scan() {
		for (var i = 0; i < document.forms.length; i++) wire(document.forms[i]);
	}

	if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', scan);
	else scan();
	window.Inlet = { scan: scan };
})();
