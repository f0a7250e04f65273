// A demand form's values as the API takes them: empty fields left out; money kept as the
// string the user typed (the API reads it as a decimal), whole numbers as numbers.
export function emptyDemand(): Record<string, any> {
  return { title: "", category: "", description: "", product: "", standard: "", parameter: "", region: "", industry: "",
    budget_yuan: "", desired_cycle_working_days: "" };
}

export function demandBody(model: Record<string, any>): Record<string, any> {
  const body: Record<string, any> = {};
  for (const [k, v] of Object.entries(model)) {
    if (v === "" || v === null || v === undefined) continue;
    if (k === "desired_cycle_working_days" && /^\d+$/.test(String(v))) body[k] = Number(v);
    else body[k] = typeof v === "string" ? v.trim() : v;
  }
  return body;
}
