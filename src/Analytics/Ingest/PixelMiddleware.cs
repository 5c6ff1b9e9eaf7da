using Analytics.Infrastructure;
using Analytics.Telemetry;
using Microsoft.AspNetCore.Http.Features;

namespace Analytics.Ingest;

/// <summary>
/// <c>GET /p.gif?s={site}&amp;u={url}&amp;r={referrer}</c>, the hottest path of the service, answered
/// ahead of routing and the rest of the pipeline: rate limit, bot check, count, GIF. It still
/// answers only after Redis has the hit.
/// </summary>
internal sealed class PixelMiddleware(RequestDelegate next, PageViews views, ClientRateLimiter limiter, AnalyticsMetrics metrics)
{
    public const string Path = "/p.gif";

    public Task InvokeAsync(HttpContext context)
    {
        var request = context.Request;
        if (!request.Path.Equals(Path, StringComparison.OrdinalIgnoreCase))
        {
            return next(context);
        }

        return HttpMethods.IsGet(request.Method) ? PixelAsync(context) : OtherMethodAsync(context);
    }

    /// <summary>
    /// HEAD gets the GIF's headers and counts nothing (link checkers and proxies ask it); a CORS
    /// preflight is allowed; any other method is refused with 405.
    /// </summary>
    private static Task OtherMethodAsync(HttpContext context)
    {
        var request = context.Request;
        var response = context.Response;
        CommonHeaders(request, response);

        if (HttpMethods.IsHead(request.Method))
        {
            response.ContentType = "image/gif";
            response.ContentLength = IngestEndpoints.GifResult.Length;
            return Task.CompletedTask;
        }

        response.Headers.XContentTypeOptions = "nosniff";
        if (HttpMethods.IsOptions(request.Method) && request.Headers.AccessControlRequestMethod.Count > 0)
        {
            response.Headers.AccessControlAllowMethods = "GET, HEAD";
            response.Headers.AccessControlMaxAge = "86400";
            response.StatusCode = StatusCodes.Status204NoContent;
            return Task.CompletedTask;
        }

        response.Headers.Allow = "GET, HEAD";
        return Problems.WriteAsync(context, StatusCodes.Status405MethodNotAllowed, "Method not allowed", $"{Path} answers GET (and HEAD), not {request.Method}.");
    }

    /// <summary>Never cached; readable from any page (CORS open, the bot marker exposed).</summary>
    private static void CommonHeaders(HttpRequest request, HttpResponse response)
    {
        // Answered ahead of routing: without this, http.server.request.duration has no route for it.
        response.HttpContext.Features.Get<IHttpMetricsTagsFeature>()?.Tags.Add(RouteTag);
        response.Headers.CacheControl = "no-store";
        if (request.Headers.Origin.Count > 0)
        {
            response.Headers.AccessControlAllowOrigin = "*";
            response.Headers.AccessControlExposeHeaders = IngestEndpoints.IgnoredHeader;
        }
    }

    private static readonly KeyValuePair<string, object?> RouteTag = new("http.route", "/p.gif");

    private async Task PixelAsync(HttpContext context)
    {
        var request = context.Request;
        var response = context.Response;
        CommonHeaders(request, response);

        if (!limiter.TryAcquire(context, "pixel", out var refused))
        {
            response.Headers.XContentTypeOptions = "nosniff";
            await refused!.ExecuteAsync(context);
            return;
        }

        if (BotFilter.IsBot(request.Headers.UserAgent.ToString()))
        {
            response.Headers[IngestEndpoints.IgnoredHeader] = "bot";
            metrics.Hit(HitOutcome.Bot, "pixel");
            await IngestEndpoints.GifResult.Instance.ExecuteAsync(context);
            return;
        }

        var (site, url, referrer) = ReadQuery(request.QueryString.Value);
        var urlField = "u";
        if (url.Length == 0 && request.Headers.Referer.Count > 0)
        {
            // No u: the page is the one the browser names; a problem with it names that header.
            (url, urlField) = (request.Headers.Referer.ToString(), "Referer");
        }

        var (error, outcome) = await IngestEndpoints.CountAsync(context, views, site, "s", url, urlField, referrer);
        metrics.Hit(outcome, "pixel");
        if (error is not null)
        {
            // Only the GIF goes without it: a problem answer is text like any other.
            response.Headers.XContentTypeOptions = "nosniff";
        }

        await (error ?? IngestEndpoints.GifResult.Instance).ExecuteAsync(context);
    }

    /// <summary>
    /// <c>s</c>, <c>u</c> and <c>r</c> straight from the raw query string ("" when absent), decoded as
    /// the request's query collection decodes them ('+' is a space, then %-escapes; names ignore
    /// case; the first of repeated names wins), without building that collection on every hit.
    /// </summary>
    internal static (string Site, string Url, string Referrer) ReadQuery(string? query)
    {
        string site = "", url = "", referrer = "";
        bool haveSite = false, haveUrl = false, haveReferrer = false;
        var rest = query.AsSpan();
        if (!rest.IsEmpty && rest[0] == '?')
        {
            rest = rest[1..];
        }

        while (!rest.IsEmpty)
        {
            var end = rest.IndexOf('&');
            var pair = end < 0 ? rest : rest[..end];
            rest = end < 0 ? default : rest[(end + 1)..];
            if (pair.Length < 2 || pair[1] != '=')
            {
                continue;
            }

            switch (pair[0])
            {
                case 's' or 'S' when !haveSite:
                    (site, haveSite) = (Decode(pair[2..]), true);
                    break;
                case 'u' or 'U' when !haveUrl:
                    (url, haveUrl) = (Decode(pair[2..]), true);
                    break;
                case 'r' or 'R' when !haveReferrer:
                    (referrer, haveReferrer) = (Decode(pair[2..]), true);
                    break;
            }
        }

        return (site, url, referrer);

        static string Decode(ReadOnlySpan<char> value)
        {
            if (!value.ContainsAny('+', '%'))
            {
                return value.ToString();
            }

            var text = value.ToString().Replace('+', ' ');
            return text.Contains('%') ? Uri.UnescapeDataString(text) : text;
        }
    }
}
