using Microsoft.AspNetCore.Http.HttpResults;

namespace Analytics.Infrastructure;

/// <summary>The problem+json answers the service gives, each naming what was wrong.</summary>
internal static class Problems
{
    /// <summary>400 naming the field at fault, in <c>errors</c> and in the detail text.</summary>
    public static ValidationProblem Invalid(string field, string message)
    {
        if (!message.Contains(field, StringComparison.OrdinalIgnoreCase))
        {
            message = $"{field}: {message}";
        }

        return TypedResults.ValidationProblem(
            new Dictionary<string, string[]> { [field] = [message] },
            detail: message,
            title: $"Invalid {field}");
    }

    public static ProblemHttpResult NotFound(string detail) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status404NotFound, title: "Not found");

    public static ProblemHttpResult UnknownSite(string site) =>
        NotFound($"There is no site '{site}'.");

    public static ProblemHttpResult Conflict(string detail) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status409Conflict, title: "Conflict");

    public static ProblemHttpResult Forbidden(string detail) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status403Forbidden, title: "Forbidden");

    public static ProblemHttpResult Unauthorized(string detail = "Sign in or send a bearer token.") =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status401Unauthorized, title: "Unauthorized");

    public static ProblemHttpResult TooLarge(long limit) =>
        TypedResults.Problem($"The body is larger than {limit} bytes.", statusCode: StatusCodes.Status413PayloadTooLarge, title: "Body too large");

    public static ProblemHttpResult Unavailable(string detail) =>
        TypedResults.Problem(detail, statusCode: StatusCodes.Status503ServiceUnavailable, title: "Service unavailable");

    /// <summary>Writes a problem directly, for middleware that has no endpoint result to return.</summary>
    public static Task WriteAsync(HttpContext context, int status, string title, string detail)
    {
        context.Response.StatusCode = status;
        return context.Response.WriteAsJsonAsync(
            new Microsoft.AspNetCore.Mvc.ProblemDetails { Status = status, Title = title, Detail = detail },
            options: null,
            contentType: "application/problem+json");
    }
}
