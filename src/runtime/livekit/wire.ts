import { ServerMessage, type WorkerMessage } from '@livekit/protocol';
import { AccessToken } from 'livekit-server-sdk';
import type { RawData } from 'ws';

/** A frame from the server that is not a ServerMessage; the message says why. */
export class LiveKitWireError extends Error {
  override name = 'LiveKitWireError';
}

/** `<url>/agent` as a WebSocket URL: http(s) becomes ws(s); a path prefix on the URL is kept. */
export function agentSocketUrl(url: string): URL {
  const u = new URL(url);
  if (u.protocol === 'http:') u.protocol = 'ws:';
  else if (u.protocol === 'https:') u.protocol = 'wss:';
  else if (u.protocol !== 'ws:' && u.protocol !== 'wss:') {
    throw new LiveKitWireError(`LiveKit URL must be ws://, wss://, http:// or https://, got '${url}'`);
  }
  u.pathname = `${u.pathname.replace(/\/+$/, '')}/agent`;
  return u;
}

/** A short-lived JWT with the agent grant, which LiveKit requires of an agent worker's connection. */
export async function agentJwt(apiKey: string, apiSecret: string): Promise<string> {
  const token = new AccessToken(apiKey, apiSecret, { ttl: '10m' });
  token.addGrant({ agent: true });
  return token.toJwt();
}

/** The binary frame of a WorkerMessage. */
export function encodeWorkerMessage(msg: WorkerMessage): Uint8Array {
  return msg.toBinary();
}

/** Decodes a binary frame as a ServerMessage; a text frame or bad bytes throw LiveKitWireError. */
export function decodeServerMessage(data: RawData, isBinary: boolean): ServerMessage {
  if (!isBinary) throw new LiveKitWireError('text frame on the agent socket (expected protobuf)');
  const bytes = Array.isArray(data)
    ? Buffer.concat(data)
    : data instanceof ArrayBuffer
      ? new Uint8Array(data)
      : data;
  try {
    return ServerMessage.fromBinary(bytes);
  } catch (err) {
    throw new LiveKitWireError(`undecodable ServerMessage: ${(err as Error).message}`);
  }
}
