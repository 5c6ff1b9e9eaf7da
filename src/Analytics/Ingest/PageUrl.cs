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

        // The limit is in bytes (UTF-8, as sent); only a URL long enough to pass it with
        // multi-byte characters needs them counted.
        if (url.Length > maxLength || (url.Length * 3 > maxLength && Encoding.UTF8.GetByteCount(url) > maxLength))
        {
            error = $"url is longer than {maxLength} bytes.";
            return false;
        }

        string host;
        if (site.Site.QueryParameters.Length > 0 || !TrySimple(url, out host, out path))
        {
            if (!Uri.TryCreate(url.Trim(), UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps) || uri.Host.Length == 0)
            {
                error = "url must be an absolute http(s) URL.";
                return false;
            }

            host = uri.IdnHost.ToLowerInvariant();
            path = Decode(uri.AbsolutePath);
            if (site.Site.QueryParameters.Length > 0 && uri.Query.Length > 1)
            {
                path += KeptQuery(uri.Query, site.Site.QueryParameters);
            }
        }

        if (!IsHostName(host))
        {
            path = "";
            error = "url's host is not a valid host name.";
            return false;
        }

        if (!site.OwnsHost(host))
        {
            path = "";
            error = $"url's host '{host}' is not one of site '{site.Id}''s domains.";
            return false;
        }

        error = "";
        return true;
    }

    /// <summary>
    /// The common case without <see cref="Uri"/>: http(s), a plain ASCII host (and port), and a path
    /// of plain characters (no escapes, no dot segments). Anything else goes the long way, which
    /// gives the same answer for these URLs.
    /// </summary>
    private static bool TrySimple(string url, out string host, out string path)
    {
        host = path = "";
        if (!TrySimpleHost(url, out var hostSpan, out var rest))
        {
            return false;
        }

        var pathSpan = ReadOnlySpan<char>.Empty;
        if (!rest.IsEmpty && rest[0] == '/')
        {
            pathSpan = rest;
            var pathEnd = pathSpan.IndexOfAny('?', '#');
            if (pathEnd >= 0)
            {
                pathSpan = pathSpan[..pathEnd];
            }

            if (pathSpan.ContainsAnyExcept(PathCharacters) || pathSpan.Contains("/.", StringComparison.Ordinal))
            {
                return false;
            }
        }

        host = LowerHost(hostSpan);
        path = pathSpan.IsEmpty ? "/" : pathSpan.ToString();
        return true;
    }

    /// <summary>
    /// An http(s) URL's host when it is plain ASCII (with an optional numeric port), and what
    /// follows the authority; false for anything <see cref="Uri"/> has to look at.
    /// </summary>
    private static bool TrySimpleHost(string url, out ReadOnlySpan<char> host, out ReadOnlySpan<char> rest)
    {
        host = rest = default;
        var start = url.StartsWith("https://", StringComparison.Ordinal) ? 8 : url.StartsWith("http://", StringComparison.Ordinal) ? 7 : -1;
        if (start < 0)
        {
            return false;
        }

        var span = url.AsSpan(start);
        var authorityEnd = span.IndexOfAny('/', '?', '#');
        var authority = authorityEnd < 0 ? span : span[..authorityEnd];
        var colon = authority.IndexOf(':');
        host = colon < 0 ? authority : authority[..colon];
        rest = authorityEnd < 0 ? default : span[authorityEnd..];
        return !host.IsEmpty && host[^1] != '.' && !host.ContainsAnyExcept(HostCharacters)
            && (colon < 0 || IsPort(authority[(colon + 1)..]));
    }

    private static bool IsPort(ReadOnlySpan<char> port) =>
        port.Length is > 0 and <= 5 && !port.ContainsAnyExceptInRange('0', '9') && int.Parse(port, provider: null) <= 65535;

    /// <summary>Dot-separated labels of 1–63 characters that neither start nor end with '-' (the host is ASCII by now).</summary>
    internal static bool IsHostName(ReadOnlySpan<char> host)
    {
        if (host.IsEmpty || host.Length > 253)
        {
            return false;
        }

        foreach (var range in host.Split('.'))
        {
            var label = host[range];
            if (label.IsEmpty || label.Length > 63 || label[0] == '-' || label[^1] == '-')
            {
                return false;
            }
        }

        return true;
    }

    private static string LowerHost(ReadOnlySpan<char> host) =>
        host.ContainsAnyInRange('A', 'Z') ? host.ToString().ToLowerInvariant() : host.ToString();

    private static readonly System.Buffers.SearchValues<char> HostCharacters =
        System.Buffers.SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.");

    // Printable ASCII that a URL path carries as is (no '%' escapes, no backslash, no quotes or brackets Uri would escape).
    private static readonly System.Buffers.SearchValues<char> PathCharacters =
        System.Buffers.SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:@/");

    /// <summary>The referrer's host, or <see cref="Hit.DirectReferrer"/> for none, an unparsable one, or the site itself.</summary>
    public static string ReferrerHost(string? referrer, SiteEntry site)
    {
        if (string.IsNullOrWhiteSpace(referrer) || referrer.Length > 2048)
        {
            return Hit.DirectReferrer;
        }

        string host;
        if (TrySimpleHost(referrer, out var simple, out _))
        {
            host = LowerHost(simple);
        }
        else if (Uri.TryCreate(referrer.Trim(), UriKind.Absolute, out var uri) && uri.Host.Length > 0)
        {
            host = uri.IdnHost.ToLowerInvariant();
        }
        else
        {
            return Hit.DirectReferrer;
        }

        if (!IsHostName(host) || site.OwnsHost(host))
        {
            return Hit.DirectReferrer;
        }

        return host.StartsWith("www.", StringComparison.Ordinal) ? host[4..] : host;
    }

    /// <summary>Percent-escapes decoded, except control characters, which stay escaped (%0A, %00 …).</summary>
    private static string Decode(string path)
    {
        string decoded;
        try
        {
            decoded = Uri.UnescapeDataString(path);
        }
        catch (UriFormatException)
        {
            decoded = path;
        }

        if (!decoded.AsSpan().ContainsAnyInRange('\0', '\u001f') && !decoded.Contains('\u007f', StringComparison.Ordinal))
        {
            return decoded;
        }

        var escaped = new StringBuilder(decoded.Length + 8);
        foreach (var c in decoded)
        {
            if (c < ' ' || c == '\u007f')
            {
                escaped.Append('%').Append(((int)c).ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
            }
            else
            {
                escaped.Append(c);
            }
        }

        return escaped.ToString();
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
