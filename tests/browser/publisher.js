// A minimal VDO.Ninja publisher speaking the self-hosted relay dialect
// (docs/vdo-ninja-protocol.md, sections 1-7), for roomrec's browser tests. No external scripts.
//
// URL parameters: room, push (stream id), label, password (absent: VDO.Ninja's default; false/0/off:
// none), ws (relay URL), vcodec (h264|vp8|vp9: the only video codec offered), audio=0 / video=0,
// hangupAfter=S / rejoinAfter=S (hang up S s after joining, come back with a new id S s later),
// width/height/fps (camera constraints, default 320x240@15), stun (a STUN server URL for
// RTCPeerConnection's iceServers, e.g. stun:203.0.113.1:3478; repeatable; absent: none, host
// candidates only).
"use strict";

(function () {
  const C = window.VdoCrypto;
  const SALT = "vdo.ninja";
  const params = new URLSearchParams(location.search);
  const num = (name, fallback) => {
    const v = parseFloat(params.get(name));
    return Number.isFinite(v) ? v : fallback;
  };
  const cfg = {
    room: params.get("room") || "",
    push: params.get("push") || "",
    label: params.get("label") || params.get("push") || "",
    password: params.get("password"),
    ws: params.get("ws") || "",
    vcodec: (params.get("vcodec") || "").toLowerCase(),
    audio: params.get("audio") !== "0",
    video: params.get("video") !== "0",
    hangupAfter: num("hangupAfter", null),
    rejoinAfter: num("rejoinAfter", null),
    width: num("width", 320),
    height: num("height", 240),
    fps: num("fps", 15),
    stun: params.getAll("stun").filter((u) => u),
  };

  // Everything the harness reads (over CDP) lives here.
  const state = (window.__roomrec = {
    config: cfg,
    id: null,
    visit: 0,
    roomid: null,
    streamID: null,
    ws: "idle",
    joined: false,
    hungUp: false,
    camera: null,
    hungUpAt: null,
    // Current connection per viewer id, and every connection ever made (with wall-clock times).
    peers: {},
    connections: [],
    connected: 0,
    errors: [],
    log: [],
    sent: [],
    received: [],
  });

  let secrets = null;
  let localStream = null;
  let socket = null;
  const peers = new Map(); // viewer id -> peer

  function log(text) {
    state.log.push(`${(performance.now() / 1000).toFixed(3)} ${text}`);
    document.getElementById("status").textContent = state.log.slice(-20).join("\n");
  }

  function fail(where, err) {
    const text = `${where}: ${err && err.message ? err.message : err}`;
    state.errors.push(text);
    log(`ERROR ${text}`);
  }

  window.addEventListener("error", (e) => fail("uncaught", e.message));
  window.addEventListener("unhandledrejection", (e) => fail("unhandled rejection", e.reason));

  // ---- signaling WebSocket ----

  function sendWs(msg) {
    if (!socket || socket.readyState !== WebSocket.OPEN) return fail("send", "WebSocket not open");
    msg.from = state.id;
    msg.roomid = secrets.roomid;
    socket.send(JSON.stringify(msg));
    state.sent.push({ channel: "ws", msg });
  }

  function connect() {
    state.id = C.randomId(20);
    state.visit += 1;
    state.hungUp = false;
    log(`visit ${state.visit} as ${state.id}`);
    const ws = new WebSocket(cfg.ws);
    socket = ws;
    state.ws = "connecting";
    ws.onopen = () => {
      state.ws = "open";
      // Key order as the web app sends it.
      sendWs({ request: "joinroom", streamID: secrets.streamID, roomid: secrets.roomid });
      state.joined = true;
      if (cfg.hangupAfter !== null && state.visit === 1) {
        setTimeout(() => hangUp().catch((e) => fail("hang-up", e)), cfg.hangupAfter * 1000);
      }
    };
    ws.onmessage = (ev) => onWsMessage(ev.data).catch((e) => fail("ws message", e));
    ws.onclose = () => {
      if (socket === ws) state.ws = "closed";
    };
    ws.onerror = () => fail("ws", "WebSocket error");
  }

  async function onWsMessage(text) {
    let msg;
    try {
      msg = JSON.parse(text);
    } catch (e) {
      return fail("ws", "unparsable message");
    }
    if (typeof msg !== "object" || msg === null) return;
    state.received.push({ channel: "ws", msg });
    if (msg.error) return fail("relay", msg.error);
    // Relay dialect: drop what is addressed to someone else or to another room.
    if (msg.UUID !== undefined && msg.UUID !== state.id) return;
    if (msg.roomid !== undefined && String(msg.roomid) !== secrets.roomid) return;
    const from = msg.from;
    if (typeof from !== "string" || !from) return;
    if (msg.request === "joinroom") {
      // Viewers (no streamID) get an offer; other publishers are none of our business.
      if (!msg.streamID) await offerTo(from);
      return;
    }
    if (msg.request === "play") {
      if (msg.streamID === secrets.streamID) await offerTo(from);
      return;
    }
    const peer = peers.get(from);
    if (!peer) return;
    await handleSignal(peer, msg, "ws");
  }

  // ---- one connection per viewer ----

  async function offerTo(viewer) {
    const old = peers.get(viewer);
    if (old) {
      if (old.pc.connectionState === "connected") return log(`already connected to ${viewer}`);
      closePeer(old, "replaced by a new offer");
    }
    const iceServers = cfg.stun.length ? [{ urls: cfg.stun }] : [];
    const pc = new RTCPeerConnection({ iceServers });
    const peer = {
      viewer,
      session: C.randomId(10),
      pc,
      dc: null,
      localCandidates: [],
      flushTimer: null,
      remoteCandidates: [],
      requested: false,
      offeredOnDc: false,
      closed: false,
      summary: {
        viewer,
        visit: state.visit,
        session: null,
        ice: "new",
        connection: "new",
        dc: "none",
        requested: false,
        reoffers: 0,
        createdAt: Date.now(),
        connectedAt: null,
        mediaAt: null,
        closedAt: null,
        // The candidate pair Chromium selected, once connected: {local, remote} as "type addr:port".
        pair: null,
      },
    };
    peer.summary.session = peer.session;
    peers.set(viewer, peer);
    state.peers[viewer] = peer.summary;
    state.connections.push(peer.summary);
    log(`offering to ${viewer} (session ${peer.session})`);

    // The data channel first: the first offer carries only m=application.
    const dc = pc.createDataChannel("sendChannel");
    peer.dc = dc;
    dc.onopen = () => {
      peer.summary.dc = "open";
      log(`data channel open with ${viewer}`);
    };
    dc.onclose = () => {
      peer.summary.dc = "closed";
    };
    dc.onmessage = (ev) => onDcMessage(peer, ev.data).catch((e) => fail("dc message", e));
    pc.onicecandidate = (ev) => {
      if (ev.candidate && ev.candidate.candidate) queueCandidate(peer, ev.candidate.toJSON());
    };
    pc.oniceconnectionstatechange = () => {
      peer.summary.ice = pc.iceConnectionState;
    };
    pc.onconnectionstatechange = () => {
      peer.summary.connection = pc.connectionState;
      if (pc.connectionState === "connected" && !peer.summary.connectedAt) {
        peer.summary.connectedAt = Date.now();
        selectedPair(pc)
          .then((pair) => (peer.summary.pair = pair))
          .catch((e) => fail("stats", e));
      }
      countConnected();
      if (pc.connectionState === "failed") fail("peer", `connection to ${viewer} failed`);
    };
    await pc.setLocalDescription(await pc.createOffer());
    await sendDescription(peer, "ws");
  }

  // The selected candidate pair from getStats: which of our candidates and the viewer's carry the media.
  async function selectedPair(pc) {
    const stats = await pc.getStats();
    let pairId = null;
    stats.forEach((s) => {
      if (s.type === "transport" && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId;
    });
    const pair = pairId && stats.get(pairId);
    if (!pair) return null;
    const describe = (id) => {
      const c = stats.get(id);
      return c ? `${c.candidateType} ${c.address}:${c.port}` : null;
    };
    return { local: describe(pair.localCandidateId), remote: describe(pair.remoteCandidateId) };
  }

  function countConnected() {
    state.connected = [...peers.values()].filter((p) => !p.closed && p.pc.connectionState === "connected").length;
  }

  function closePeer(peer, why) {
    if (peer.closed) return;
    peer.closed = true;
    clearTimeout(peer.flushTimer);
    peer.pc.close();
    peer.summary.connection = "closed";
    peer.summary.dc = "closed";
    peer.summary.closedAt = Date.now();
    if (peers.get(peer.viewer) === peer) peers.delete(peer.viewer);
    countConnected();
    log(`closed connection to ${peer.viewer}: ${why}`);
  }

  // Encrypts `value` (JSON text) into msg[field] + msg.vector, or puts it in plain.
  async function putPayload(msg, field, value) {
    if (secrets.key) {
      const [cipher, iv] = await C.encrypt(secrets.key, JSON.stringify(value));
      msg[field] = cipher;
      msg.vector = iv;
    } else {
      msg[field] = value;
    }
  }

  async function takePayload(msg, field) {
    const value = msg[field];
    if (msg.vector === undefined) return value;
    if (!secrets.key) throw new Error("encrypted message but no password");
    return JSON.parse(await C.decrypt(secrets.key, value, msg.vector));
  }

  // The offer: over the WebSocket the first time, on the data channel for the re-offer.
  async function sendDescription(peer, channel) {
    const desc = peer.pc.localDescription.toJSON();
    const msg = {
      UUID: peer.viewer,
      // The re-offer on the data channel carries the plain stream id (as the web app does).
      streamID: channel === "ws" ? secrets.streamID : secrets.plainStreamID,
      description: null,
      session: peer.session,
      isScene: false,
    };
    await putPayload(msg, "description", desc);
    peer.offeredOnDc = channel === "dc";
    if (channel === "ws") sendWs(msg);
    else sendDc(peer, msg);
  }

  function queueCandidate(peer, candidate) {
    // Remember which offer (WebSocket or data channel) the candidate belongs to.
    peer.localCandidates.push({ candidate, onDc: peer.offeredOnDc });
    if (!peer.flushTimer) peer.flushTimer = setTimeout(() => flushCandidates(peer).catch((e) => fail("candidates", e)), 30);
  }

  // Candidates go out in bundles, on the channel that carried the offer they belong to.
  async function flushCandidates(peer) {
    clearTimeout(peer.flushTimer);
    peer.flushTimer = null;
    if (peer.closed || peer.localCandidates.length === 0) return;
    const queued = peer.localCandidates.splice(0);
    for (const onDc of [false, true]) {
      const candidates = queued.filter((q) => q.onDc === onDc).map((q) => q.candidate);
      if (candidates.length === 0) continue;
      const msg = { UUID: peer.viewer, type: "local", candidates: null, session: peer.session };
      await putPayload(msg, "candidates", candidates);
      if (onDc) sendDc(peer, msg);
      else sendWs(msg);
    }
  }

  // Answers and candidates from the viewer, on either channel.
  async function handleSignal(peer, msg, channel) {
    if (msg.bye) return closePeer(peer, `viewer said bye (${channel})`);
    if (msg.session !== undefined && msg.session !== peer.session) {
      return log(`dropping ${channel} message for session ${msg.session} (ours: ${peer.session})`);
    }
    if (msg.description !== undefined) {
      const desc = await takePayload(msg, "description");
      if (!desc || desc.type !== "answer") return fail("signal", `unexpected description ${desc && desc.type}`);
      if (peer.pc.signalingState !== "have-local-offer") return log(`answer in state ${peer.pc.signalingState} ignored`);
      await peer.pc.setRemoteDescription(desc);
      // The answer to the re-offer with tracks: media flows from now on.
      if (channel === "dc" && !peer.summary.mediaAt && peer.pc.getSenders().some((s) => s.track)) {
        peer.summary.mediaAt = Date.now();
      }
      log(`answer from ${peer.viewer} applied (${channel})`);
      for (const c of peer.remoteCandidates.splice(0)) await addCandidate(peer, c);
    }
    let list = [];
    if (msg.candidates !== undefined) list = await takePayload(msg, "candidates");
    else if (msg.candidate !== undefined) list = [await takePayload(msg, "candidate")];
    for (const c of Array.isArray(list) ? list : []) {
      if (!c || !c.candidate) continue;
      if (peer.pc.remoteDescription) await addCandidate(peer, c);
      else peer.remoteCandidates.push(c);
    }
  }

  async function addCandidate(peer, c) {
    try {
      await peer.pc.addIceCandidate(c);
    } catch (e) {
      fail("candidate", e);
    }
  }

  // ---- data channel ----

  function sendDc(peer, msg) {
    if (!peer.dc || peer.dc.readyState !== "open") return fail("dc send", "channel not open");
    peer.dc.send(JSON.stringify(msg));
    state.sent.push({ channel: "dc", peer: peer.viewer, msg });
  }

  async function onDcMessage(peer, text) {
    if (typeof text !== "string") return;
    let msg;
    try {
      msg = JSON.parse(text);
    } catch (e) {
      return fail("dc", "unparsable message");
    }
    if (typeof msg !== "object" || msg === null) return;
    state.received.push({ channel: "dc", peer: peer.viewer, msg });
    if ("ping" in msg) sendDc(peer, { pong: msg.ping });
    if (typeof msg.audio === "boolean" || typeof msg.video === "boolean") {
      await onRequest(peer, msg);
      return;
    }
    if (msg.bye || msg.description !== undefined || msg.candidates !== undefined || msg.candidate !== undefined) {
      await handleSignal(peer, msg, "dc");
    }
  }

  // The viewer's request: send our info, add the tracks it wants, re-offer on the data channel.
  async function onRequest(peer, req) {
    peer.requested = true;
    peer.summary.requested = true;
    peer.summary.preferVideoCodec = req.preferVideoCodec || null;
    log(`request from ${peer.viewer}: audio=${req.audio} video=${req.video} prefer=${req.preferVideoCodec}`);
    const settings = cameraSettings();
    sendDc(peer, {
      info: {
        label: cfg.label,
        video_init_width: settings.width || false,
        video_init_height: settings.height || false,
        video_init_frameRate: settings.frameRate || false,
        version: "roomrec-test",
      },
      miniInfo: { out: { c: 0 } },
    });
    const pc = peer.pc;
    const haveSenders = pc.getSenders().some((s) => s.track);
    if (!haveSenders) {
      // Video first, then audio (the web app's m-line order).
      for (const track of [...localStream.getVideoTracks(), ...localStream.getAudioTracks()]) {
        if (track.kind === "audio" && req.audio === false) continue;
        if (track.kind === "video" && req.video === false) continue;
        pc.addTrack(track, localStream);
      }
    }
    for (const t of pc.getTransceivers()) {
      if (t.sender.track && t.sender.track.kind === "video") setVideoCodecs(t, req.preferVideoCodec);
    }
    // The data channel can open before our handling of the answer has finished.
    if (!(await stable(pc))) return fail("re-offer", `signaling state stuck in ${pc.signalingState}`);
    await flushCandidates(peer); // the first offer's candidates still go over the WebSocket
    await pc.setLocalDescription(await pc.createOffer());
    peer.summary.reoffers += 1;
    await sendDescription(peer, "dc");
  }

  // Resolves true once the connection has no offer pending (false after 5 s or when closed).
  function stable(pc) {
    return new Promise((resolve) => {
      const check = () => {
        if (pc.signalingState === "stable" || pc.signalingState === "closed") {
          pc.removeEventListener("signalingstatechange", check);
          clearTimeout(timer);
          resolve(pc.signalingState === "stable");
        }
      };
      const timer = setTimeout(() => {
        pc.removeEventListener("signalingstatechange", check);
        resolve(false);
      }, 5000);
      pc.addEventListener("signalingstatechange", check);
      check();
    });
  }

  const AUX_CODECS = /^video\/(rtx|red|ulpfec|flexfec-03)$/i;

  // vcodec restricts the offer to one codec; preferVideoCodec moves that codec to the front.
  function setVideoCodecs(transceiver, prefer) {
    const wanted = String(prefer || "").toLowerCase();
    if (!cfg.vcodec && !wanted) return;
    const caps = (RTCRtpSender.getCapabilities("video") || { codecs: [] }).codecs;
    const name = (c) => c.mimeType.toLowerCase().replace("video/", "");
    // Restricted: that codec and its retransmission format only (no RED/FEC).
    let codecs = cfg.vcodec ? caps.filter((c) => name(c) === cfg.vcodec || name(c) === "rtx") : caps.slice();
    if (wanted) {
      const first = codecs.filter((c) => name(c) === wanted);
      codecs = [...first, ...codecs.filter((c) => name(c) !== wanted)];
    }
    try {
      transceiver.setCodecPreferences(codecs);
      noteOfferedCodecs(codecs);
    } catch (e) {
      fail("setCodecPreferences", e);
    }
  }

  function noteOfferedCodecs(codecs) {
    state.offeredVideoCodecs = codecs.filter((c) => !AUX_CODECS.test(c.mimeType)).map((c) => c.mimeType);
  }

  function cameraSettings() {
    const track = localStream && localStream.getVideoTracks()[0];
    return track ? track.getSettings() : {};
  }

  // ---- hang-up and rejoin ----

  async function hangUp() {
    log("hanging up");
    state.hungUpAt = Date.now();
    const open = [...peers.values()].filter((p) => p.dc && p.dc.readyState === "open");
    for (const peer of open) {
      sendDc(peer, { videoMuted: true, bye: true });
      sendDc(peer, { bye: true });
    }
    // Let the goodbyes leave before closing the connections.
    const deadline = performance.now() + 1000;
    while (open.some((p) => p.dc.bufferedAmount > 0) && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => setTimeout(r, 200));
    for (const peer of [...peers.values()]) closePeer(peer, "hang-up");
    if (socket) socket.close();
    socket = null;
    state.ws = "closed";
    state.joined = false;
    state.hungUp = true;
    if (cfg.rejoinAfter !== null) setTimeout(connect, cfg.rejoinAfter * 1000);
  }

  // ---- sending statistics, for the harness ----

  async function collectStats() {
    for (const peer of peers.values()) {
      if (peer.closed) continue;
      const report = await peer.pc.getStats();
      const codecs = {};
      report.forEach((s) => {
        if (s.type === "codec") codecs[s.id] = s.mimeType;
      });
      report.forEach((s) => {
        if (s.type !== "outbound-rtp") return;
        const out = { codec: codecs[s.codecId] || null, packets: s.packetsSent };
        if (s.kind === "video") {
          Object.assign(out, {
            width: s.frameWidth,
            height: s.frameHeight,
            fps: s.framesPerSecond,
            frames: s.framesEncoded,
            encoder: s.encoderImplementation,
            limitation: s.qualityLimitationReason,
          });
        }
        peer.summary[s.kind] = out;
      });
    }
  }

  // ---- start ----

  async function start() {
    if (!cfg.ws || !cfg.room || !cfg.push) throw new Error("room, push and ws parameters are required");
    secrets = await C.makeSecrets(cfg.room, cfg.push, cfg.password, SALT);
    state.roomid = secrets.roomid;
    state.streamID = secrets.streamID;
    const video = cfg.video ? { width: cfg.width, height: cfg.height, frameRate: cfg.fps } : false;
    localStream = await navigator.mediaDevices.getUserMedia({ audio: cfg.audio, video });
    const s = cameraSettings();
    state.camera = { width: s.width || null, height: s.height || null, fps: s.frameRate || null };
    log(`camera ${JSON.stringify(state.camera)}, audio tracks ${localStream.getAudioTracks().length}`);
    setInterval(() => collectStats().catch((e) => fail("stats", e)), 1000);
    connect();
  }

  start().catch((e) => fail("start", e));
})();
