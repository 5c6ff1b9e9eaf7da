using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Diagnostics;

namespace Analytics.Infrastructure;

/// <summary>
/// A request body or parameter the endpoints could not bind (malformed JSON, a field of the wrong
/// type, a body that is not JSON) is answered as problem+json that says what was wrong, with the
/// JSON field named where the parser knows it, instead of a bare "Bad Request".
/// </summary>
internal sealed partial class BadRequestHandler(IProblemDetailsService problems) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
    {
        if (exception is not BadHttpRequestException bad || context.Response.HasStarted)
        {
            return false;
        }

        // A value of the wrong type names its field; broken JSON (the serializer wraps the reader's
        // own JsonException) is the body's fault wherever it broke off. Said without the service's
        // own type names.
        var field = bad.InnerException is JsonException { Path: { Length: > 2 } path, InnerException: not JsonException }
            && path.StartsWith("$.", StringComparison.Ordinal)
            ? JsonIndex().Replace(path[2..], "")
            : "body";
        var detail = bad.InnerException switch
        {
            JsonException when field != "body" => $"{field} has the wrong type of value.",
            JsonException { InnerException: JsonException reader } => $"The body is not valid JSON: {reader.Message}",
            // Valid JSON of the wrong shape (an array, a number where an object belongs): the
            // serializer's message would name the service's own types.
            JsonException => "The body must be a JSON object with this endpoint's fields.",
            _ => bad.Message,
        };
        context.Response.StatusCode = bad.StatusCode;
        var problem = bad.StatusCode == StatusCodes.Status400BadRequest
            ? new HttpValidationProblemDetails(new Dictionary<string, string[]> { [field] = [detail] }) { Title = $"Invalid {field}" }
            : new Microsoft.AspNetCore.Mvc.ProblemDetails { Title = bad.StatusCode == StatusCodes.Status415UnsupportedMediaType ? "Unsupported media type" : "Bad request" };
        problem.Status = bad.StatusCode;
        problem.Detail = detail;
        return await problems.TryWriteAsync(new ProblemDetailsContext { HttpContext = context, ProblemDetails = problem, Exception = exception });
    }

    // "$.sites[2]" names the field "sites".
    [GeneratedRegex(@"\[\d+\].*$")]
    private static partial Regex JsonIndex();
}
