// Channels: std::sync::mpsc / crossbeam-channel over the shared heap.
export { channel, syncChannel, type ChannelOptions } from './channel.ts';
export { Sender, SyncSender } from './sender.ts';
export { Receiver } from './receiver.ts';
export { oneshot, OneshotSender, OneshotReceiver } from './oneshot.ts';
export { SendError, RecvError, TryRecvError, RecvTimeoutError, TrySendError } from './errors.ts';
export { select, selectAsync, type Selected, type SelectedOf } from './select.ts';
