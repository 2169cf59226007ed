// The one error a read raises for input it cannot use (a cursor it never issued, a query with
// no words): the API answers it with 400 and the pages with a 400 page, never a 500.
export class ReadInputError extends Error {
  override name = "ReadInputError";
}
