"""A stand-in for the BX24 JS library, served where portals load it from (NOTES s11:
``//api.bitrix24.com/api/v1/``, so ``<sandbox>/api.bitrix24.com/api/v1/``).

It talks to the framing portal page with postMessage, as the real library does; the portal
page (ui.py, PARENT_JS) answers and makes the REST calls.
"""

BX24_JS = r"""
(function () {
  if (window.BX24) return;
  var seq = 0, waiting = {}, init = null, initQueue = [], ready = false;
  function send(cmd, args, cb) {
    var id = 'bx' + (++seq);
    if (cb) waiting[id] = cb;
    window.parent.postMessage({bx24: true, id: id, cmd: cmd, args: args || {}}, '*');
  }
  window.addEventListener('message', function (e) {
    var m = e.data || {};
    if (!m.bx24reply) return;
    var cb = waiting[m.id]; delete waiting[m.id];
    if (cb) cb(m.data);
  });
  function Result(reply) {
    this.answer = reply;
    this.data = function () { return reply.result; };
    this.error = function () { return reply.error ? (reply.error + (reply.error_description ? ': ' + reply.error_description : '')) : null; };
    this.error_description = function () { return reply.error_description || ''; };
    this.more = function () { return reply.next !== undefined; };
    this.total = function () { return reply.total; };
  }
  window.BX24 = {
    init: function (cb) {
      if (ready) { cb && cb(); return; }
      initQueue.push(cb);
      if (initQueue.length > 1) return;
      send('getInitData', {}, function (data) {
        init = data; ready = true;
        initQueue.splice(0).forEach(function (f) { f && f(); });
      });
    },
    isAdmin: function () { return !!(init && init.IS_ADMIN); },
    getAuth: function () {
      return init ? {access_token: init.AUTH_ID, refresh_token: init.REFRESH_ID, expires_in: init.AUTH_EXPIRES,
                     domain: init.DOMAIN, member_id: init.MEMBER_ID} : false;
    },
    refreshAuth: function (cb) {
      send('refreshAuth', {}, function (data) { init.AUTH_ID = data.AUTH_ID; init.REFRESH_ID = data.REFRESH_ID; cb && cb(BX24.getAuth()); });
    },
    getDomain: function () { return init && init.DOMAIN; },
    getLang: function () { return (init && init.LANG) || 'en'; },
    installFinish: function () { send('installFinish', {}); },
    fitWindow: function (cb) {
      send('resizeWindow', {width: '100%', height: document.documentElement.scrollHeight}, cb);
    },
    resizeWindow: function (width, height, cb) { send('resizeWindow', {width: width, height: height}, cb); },
    callMethod: function (method, params, cb) {
      send('callMethod', {method: method, params: params || {}}, function (reply) { cb && cb(new Result(reply)); });
    },
    callBatch: function (calls, cb, halt) {
      send('callBatch', {calls: calls, halt: !!halt}, function (reply) {
        var out = Array.isArray(calls) ? [] : {};
        Object.keys(reply).forEach(function (k) { out[k] = new Result(reply[k]); });
        cb && cb(out);
      });
    },
    placement: {
      info: function () { return {placement: init && init.PLACEMENT, options: (init && init.PLACEMENT_OPTIONS) || {}}; },
      call: function (cmd, params, cb) { send('placementCall', {cmd: cmd, params: params}, cb); }
    },
    openPath: function (path, cb) { send('openPath', {path: path}, cb); },
    openApplication: function (params, cb) { send('openApplication', {params: params}, cb); },
    closeApplication: function () { send('closeApplication', {}); },
    reloadWindow: function () { send('reloadWindow', {}); }
  };
})();
"""
