// VDO.Ninja hashing and encryption (docs/vdo-ninja-protocol.md sections 4 and 5), with WebCrypto.
"use strict";

(function () {
  const DEFAULT_PASSWORD = "someEncryptionKey123";
  const enc = new TextEncoder();

  function toHex(bytes) {
    return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function fromHex(hex) {
    if (typeof hex !== "string" || hex.length % 2 !== 0 || /[^0-9a-fA-F]/.test(hex)) {
      throw new Error("not a hex string");
    }
    const out = new Uint8Array(hex.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(i * 2, 2), 16);
    return out;
  }

  async function sha256(text) {
    return new Uint8Array(await crypto.subtle.digest("SHA-256", enc.encode(text)));
  }

  // The app's sanitizing: runs of non-word characters become "_".
  function sanitize(id, max) {
    return String(id).replace(/\W+/g, "_").slice(0, max);
  }

  // null = no password (password=false/0/off); otherwise the password as the app uses it.
  function effectivePassword(param) {
    if (param === null || param.trim() === "") return DEFAULT_PASSWORD;
    const lower = param.trim().toLowerCase();
    if (lower === "false" || lower === "0" || lower === "off") return null;
    return encodeURIComponent(param.trim());
  }

  // Everything that goes on the wire for one room/stream/password.
  async function makeSecrets(room, stream, passwordParam, salt) {
    const password = effectivePassword(passwordParam);
    const cleanRoom = sanitize(room, 30);
    const cleanStream = sanitize(stream, 44);
    if (password === null) {
      return { password: null, roomid: cleanRoom, streamID: cleanStream, plainStreamID: cleanStream, key: null };
    }
    const keyBytes = await sha256(password + salt);
    const roomHash = toHex(await sha256(cleanRoom + password + salt)).slice(0, 16);
    const key = await crypto.subtle.importKey("raw", keyBytes, { name: "AES-CBC" }, false, ["encrypt", "decrypt"]);
    return {
      password,
      roomid: roomHash,
      streamID: cleanStream + toHex(keyBytes).slice(0, 6),
      plainStreamID: cleanStream,
      key,
    };
  }

  // AES-256-CBC (PKCS#7) of `text` with a fresh IV (or `fixedIv`, for test vectors): [hex ciphertext, hex IV].
  async function encrypt(key, text, fixedIv) {
    const iv = fixedIv ? fromHex(fixedIv) : crypto.getRandomValues(new Uint8Array(16));
    const cipher = await crypto.subtle.encrypt({ name: "AES-CBC", iv }, key, enc.encode(text));
    return [toHex(cipher), toHex(iv)];
  }

  async function decrypt(key, hexCipher, hexIv) {
    const plain = await crypto.subtle.decrypt({ name: "AES-CBC", iv: fromHex(hexIv) }, key, fromHex(hexCipher));
    return new TextDecoder().decode(plain);
  }

  function randomId(length) {
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    const bytes = crypto.getRandomValues(new Uint8Array(length));
    return Array.from(bytes, (b) => alphabet[b % alphabet.length]).join("");
  }

  window.VdoCrypto = { toHex, sha256, sanitize, effectivePassword, makeSecrets, encrypt, decrypt, randomId };
})();
