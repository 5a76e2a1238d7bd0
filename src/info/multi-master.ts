// multi-master.info: the names of the channels other than the default one, one per line, as MariaDB keeps it.

export function parseMultiMasterInfo(text: string): string[] {
  return text.split('\n').filter((line) => line !== '');
}

export function formatMultiMasterInfo(channels: readonly string[]): string {
  for (const name of channels) {
    if (name === '' || /[\n\r]/.test(name)) {
      throw new Error(`multi-master.info cannot hold the channel name ${JSON.stringify(name)}`);
    }
  }
  return channels.map((name) => `${name}\n`).join('');
}
