/** A test function for state machines: doubles a value, fails with a named error, or echoes. */
export const handler = async (event: { op?: string; value?: number }) => {
  if (event.op === 'double') return { value: (event.value ?? 0) * 2 };
  if (event.op === 'fail') {
    const error = new Error('the query failed: table not found');
    error.name = 'AthenaQueryFailedError';
    throw error;
  }
  return { echoed: event };
};
