/** L3 indexes a page's summary under the page id plus this, so a fault can match a page through its summary. */
export const SUMMARY_KEY = '~summary';
export const pageOfKey = (key: string) => (key.endsWith(SUMMARY_KEY) ? key.slice(0, -SUMMARY_KEY.length) : key);
