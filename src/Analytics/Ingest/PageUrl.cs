using System.Text;
using Analytics.Counting;
using Analytics.Sites;

namespace Analytics.Ingest;

/// <summary>
/// Turns a page URL into the path it is counted under: no fragment, no query parameters except
/// the site's configured ones, percent-escapes decoded; and a referrer into its host.
/// </summary>
internal static class PageUrl
{
    public static bool TryNormalise(string? url, SiteEntry site, int maxLength, out string path, out string error)
    {
        path = "";
        if (string.IsNullOrWhiteSpace(url))
        {
            error = "url is required.";
            return false;
        }

        if (url.Length > maxLength)
        {
            error = $"url is longer than {maxLength} characters.";
            return false;
        }

        if (!Uri.TryCreate(url.Trim(), UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps) || uri.Host.Length == 0)
        {
            error = "url must be an absolute http(s) URL.";
            return false;
        }

        var host = uri.IdnHost.ToLowerInvariant();
        if (!site.OwnsHost(host))
        {
            error = $"url's host '{host}' is not one of site '{site.Id}''s domains.";
            return false;
        }

        path = Decode(uri.AbsolutePath);
        if (site.Site.QueryParameters.Length > 0 && uri.Query.Length > 1)
        {
            path += KeptQuery(uri.Query, site.Site.QueryParameters);
        }

        error = "";
        return true;
    }

    /// <summary>The referrer's host, or <see cref="Hit.DirectReferrer"/> for none, an unparsable one, or the site itself.</summary>
    public static string ReferrerHost(string? referrer, SiteEntry site)
    {
        if (string.IsNullOrWhiteSpace(referrer) || referrer.Length > 2048
            || !Uri.TryCreate(referrer.Trim(), UriKind.Absolute, out var uri) || uri.Host.Length == 0)
        {
            return Hit.DirectReferrer;
        }

        var host = uri.IdnHost.ToLowerInvariant();
        if (site.OwnsHost(host))
        {
            return Hit.DirectReferrer;
        }

        return host.StartsWith("www.", StringComparison.Ordinal) ? host[4..] : host;
    }

    private static string Decode(string path)
    {
        try
        {
            return Uri.UnescapeDataString(path);
        }
        catch (UriFormatException)
        {
            return path;
        }
    }

    private static string KeptQuery(string query, string[] keep)
    {
        var kept = new StringBuilder();
        foreach (var pair in query.AsSpan(1).ToString().Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var name = pair.Split('=', 2)[0];
            if (keep.Contains(Decode(name), StringComparer.Ordinal))
            {
                kept.Append(kept.Length == 0 ? '?' : '&').Append(Decode(pair));
            }
        }

        return kept.ToString();
    }
}
